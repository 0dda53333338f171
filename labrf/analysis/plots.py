"""Plot helpers shared by the procedures: headless matplotlib figures with labelled axes
in engineering units, written as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def new_figure(rows: int = 1, cols: int = 1, title: str = "") -> tuple[Any, Any]:
    """A figure and its axes (an array when rows x cols > 1). A bare matplotlib Figure:
    no pyplot, no backend chosen for the process, nothing imported until a plot is made."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4 * cols, 4.2 * rows))
    axes = fig.subplots(rows, cols, squeeze=True)
    if title:
        fig.suptitle(title)
    return fig, axes


def label(ax: Any, x: str, x_unit: str, y: str, y_unit: str) -> None:
    """Axis labels with units, and engineering prefixes on SI axes (250 MHz, not 2.5e8)."""
    for axis, text, unit in ((ax.xaxis, x, x_unit), (ax.yaxis, y, y_unit)):
        from matplotlib.ticker import EngFormatter

        axis.set_label_text(f"{text} ({unit})" if unit else text)
        if unit and unit not in ("dBm", "dB", "%", "PLC"):
            axis.set_major_formatter(EngFormatter(unit=""))


def save(fig: Any, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (folders made) and release it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
