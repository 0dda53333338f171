"""Output paths a person names (``--out``), checked before the work that fills them, so
that a bad path is refused at the start rather than after hours of measurement."""

from __future__ import annotations

from pathlib import Path

from labrf.errors import LabrfError


def writable_file(path: str | Path, option: str = "--out") -> Path:
    """``path`` as a file that can be written (its folder made if needed, nothing left
    behind); LabrfError naming ``option`` otherwise."""
    path = Path(path)
    if path.is_dir():
        raise LabrfError(f"{option} {path} is a folder; give the name of a file in it")
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a"):
            pass
    except OSError as exc:
        raise LabrfError(f"{option} {path}: cannot write there ({exc.strerror}); give a "
                         "path in a folder you can write") from None
    if not existed:
        path.unlink()
    return path


def writable_folder(path: str | Path, option: str = "--out") -> Path:
    """``path`` as a folder files can be written in (made if needed); LabrfError naming
    ``option`` otherwise."""
    path = Path(path)
    probe = path / ".labrf-write-check"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise LabrfError(f"{option} {path}: cannot write files there ({exc.strerror}); "
                         "give a folder you can write") from None
    return path
