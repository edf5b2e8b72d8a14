"""Writing loaded tables to Parquet, atomically, so later runs and other engines can reuse them."""

from __future__ import annotations

from pathlib import Path

from cxreports.iorw import atomic_path
from cxreports.load import CxLogs


def write_tables(logs: CxLogs, out: str | Path) -> list[Path]:
    """Write every table of ``logs`` as ``OUT/<table>.parquet``; returns the paths written.

    Each file is written to a temporary name in the same folder and renamed into place, so a
    reader never sees a half-written table.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in logs.tables().items():
        target = out / f"{name}.parquet"
        with atomic_path(target) as tmp:
            frame.write_parquet(tmp)
        written.append(target)
    return written
