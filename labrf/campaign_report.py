"""The report of a campaign: one row per device (its fit values, pass or fail, the reason),
a chip map coloured by one quantity, histograms of the accepted quantities against their
ranges, and one self-contained HTML page (plots embedded: it opens offline).

Everything comes from the dataset: the campaign's record (its plan and verdicts) and the
runs tagged with it, so a report can be made at any time, also of a campaign still
running or interrupted.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labrf.campaign_run import CAMPAIGN
from labrf.data import load_run, runs_where, status_of
from labrf.errors import LabrfError, UsageError

FIXED = ("device", "row", "column", "status", "reason")


@dataclass
class Report:
    """A campaign's table and what describes it."""

    campaign: int
    name: str
    status: str
    table: pd.DataFrame
    accepted: dict[str, str]  #: "procedure.key" -> the accepted range as written
    shape: tuple[int, int]  #: rows, columns of the chip map


def _scalars(fit: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in fit.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def campaign_table(db: str | Path, campaign: int) -> Report:
    """The report of campaign ``campaign`` in ``db``; LabrfError if it is not one."""
    record = load_run(db, campaign)
    meta = record.metadata
    if meta.get("labrf_procedure") != CAMPAIGN:
        found = [ds.run_id for ds in runs_where(db, labrf_procedure=CAMPAIGN)]
        raise UsageError(f"run {campaign} of {db} is a {meta.get('labrf_procedure', '?')} "
                         f"run, not a campaign; campaigns in it: "
                         f"{', '.join(map(str, found)) or 'none'}")
    plan = json.loads(meta.get("labrf_campaign_plan", "{}"))
    verdicts = json.loads(meta.get("labrf_campaign_devices", "{}"))
    fits = {ds.run_id: json.loads(ds.metadata.get("labrf_fit", "{}"))
            for ds in runs_where(db, labrf_campaign=campaign)}
    steps = [s["procedure"] for s in plan.get("procedures", [])]
    accepted = {f"{s['procedure']}.{k}": f"[{b[0]}, {b[1]}]"
                for s in plan.get("procedures", []) for k, b in (s.get("accept") or {}).items()}
    rows = []
    for name, entry in (plan.get("devices") or {}).items():
        verdict = verdicts.get(name, {})
        passed = verdict.get("passed")
        row: dict[str, Any] = {
            "device": name, "row": entry["position"][0], "column": entry["position"][1],
            "status": "pass" if passed else "fail" if passed is False else "not measured",
            "reason": verdict.get("reason", "")}
        for step in steps:
            run_id = (verdict.get("runs") or {}).get(step)
            row[f"{step}.run"] = run_id
            for key, value in _scalars(fits.get(run_id, {}) if run_id else {}).items():
                row[f"{step}.{key}"] = value
        rows.append(row)
    table = pd.DataFrame(rows)
    if not rows:
        table = pd.DataFrame(columns=list(FIXED))
    shape = (int(table["row"].max()) if rows else 0, int(table["column"].max()) if rows else 0)
    return Report(campaign, str(meta.get("labrf_campaign_name", record.sample_name)),
                  status_of(meta), table, accepted, shape)


def _quantity(report: Report, quantity: str | None) -> str:
    numeric = [c for c in report.table.columns if c not in FIXED and not c.endswith(".run")]
    if quantity is None:
        quantity = next(iter(report.accepted), numeric[0] if numeric else None)
    if quantity not in numeric:
        raise UsageError(f"--quantity {quantity!r} is not a fit value of this campaign; "
                         f"valid: {', '.join(numeric) or 'none (nothing measured yet)'}")
    return quantity


def _short(reason: str) -> str:
    """'iv-curve: shorted: 5 ohm, below 10 ohm' -> 'shorted'."""
    parts = [p.strip() for p in reason.split(":")]
    text = parts[1] if len(parts) > 1 else parts[0]
    return text.split(",")[0].split(" ")[0][:10]


def chip_map(report: Report, quantity: str, path: Path) -> Path:
    """A PNG of the chip: each device coloured by ``quantity``; failed devices hatched
    with the first word of their reason."""
    from labrf.analysis.plots import new_figure, save

    rows, cols = report.shape
    grid = np.full((rows, cols), np.nan)
    for _, r in report.table.iterrows():
        value = r.get(quantity)
        if r["status"] == "pass" and value is not None and math.isfinite(float(value)):
            grid[int(r["row"]) - 1, int(r["column"]) - 1] = float(value)
    fig, ax = new_figure(title=f"Campaign {report.campaign} ({report.name}): {quantity}")
    image = ax.imshow(grid, cmap="viridis", origin="upper",
                      extent=(0.5, cols + 0.5, rows + 0.5, 0.5))
    fig.colorbar(image, ax=ax, label=quantity)
    for _, r in report.table.iterrows():
        x, y = int(r["column"]), int(r["row"])
        if r["status"] != "pass":
            ax.add_patch(_hatch(x, y))
            ax.text(x, y + 0.25, _short(str(r["reason"])) or r["status"], ha="center",
                    va="center", fontsize=8, color="darkred", backgroundcolor="white")
        elif math.isfinite(grid[y - 1, x - 1]):
            ax.text(x, y + 0.2, f"{grid[y - 1, x - 1]:.4g}", ha="center", va="center",
                    fontsize=7, color="white")
        ax.text(x, y - 0.2, r["device"], ha="center", va="center", fontsize=8,
                color="black" if r["status"] != "pass" else "white")
    ax.set_xticks(range(1, cols + 1))
    ax.set_yticks(range(1, rows + 1))
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    return save(fig, path)


def _hatch(x: int, y: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, facecolor="lightgrey", edgecolor="darkred",
                     hatch="x", linewidth=1, alpha=0.6)


def histograms(report: Report, path: Path) -> Path | None:
    """A PNG with one histogram per accepted quantity over the passing devices (a failed
    device's value, an open's 8 kohm say, would hide the spread), its accepted range in
    the title; None when nothing was measured."""
    import matplotlib.pyplot as plt

    from labrf.analysis.plots import save

    keys = [k for k in report.accepted if k in report.table.columns]
    if not keys:
        return None
    cols = min(3, len(keys))
    lines = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(lines, cols, figsize=(4.2 * cols, 3.2 * lines), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        passing = report.table[report.table["status"] == "pass"]
        values = passing[key].dropna().to_numpy(dtype=float)
        ax.hist(values, bins=max(5, min(20, values.size)), color="tab:blue")
        ax.set_title(f"{key}, {values.size} passing devices\naccepted "
                     f"{report.accepted[key]}", fontsize=9)
        ax.set_ylabel("devices")
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    fig.tight_layout()
    return save(fig, path)


def _embedded(path: Path | None) -> str:
    if path is None:
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def html_report(report: Report, images: list[Path | None], path: Path) -> Path:
    """One HTML file: summary, the plots embedded, the table."""
    t = report.table
    counts = t["status"].value_counts().to_dict() if len(t) else {}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    body = "\n".join(_embedded(i) for i in images)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Campaign {report.campaign}: {html.escape(report.name)}</title>
<style>body{{font-family:sans-serif;margin:2em}} img{{max-width:100%;margin:1em 0}}
table{{border-collapse:collapse;font-size:12px}} td,th{{border:1px solid #ccc;padding:2px 6px}}
</style></head><body>
<h1>Campaign {report.campaign}: {html.escape(report.name)}</h1>
<p>Status: {html.escape(report.status)}; {len(t)} devices: {html.escape(summary)}.</p>
{body}
<h2>Devices</h2>
{t.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.6g}")}
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path


def write_report(db: str | Path, campaign: int, out: Path | None = None,
                 quantity: str | None = None) -> dict[str, Path]:
    """Write the report of ``campaign`` into ``out`` (default: ``campaign_<id>`` beside
    the database): devices.csv, devices.parquet, chip_map.png, histograms.png and
    report.html. Returns the files by kind."""
    report = campaign_table(db, campaign)
    chosen = _quantity(report, quantity) if len(report.table) else None
    out = out if out is not None else Path(db).resolve().parent / f"campaign_{campaign}"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabrfError(f"--out {out}: cannot create it ({exc.strerror})") from None
    files: dict[str, Path] = {"csv": out / "devices.csv", "parquet": out / "devices.parquet"}
    report.table.to_csv(files["csv"], index=False)
    report.table.to_parquet(files["parquet"], index=False)
    if len(report.table):
        files["chip_map"] = chip_map(report, str(chosen), out / "chip_map.png")
    hist = histograms(report, out / "histograms.png")
    if hist is not None:
        files["histograms"] = hist
    files["html"] = html_report(report, [files.get("chip_map"), hist], out / "report.html")
    return files
