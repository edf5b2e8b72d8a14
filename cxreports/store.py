"""Writing loaded tables to Parquet, atomically, so later runs and other engines can reuse them."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        try:
            frame.write_parquet(tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        written.append(target)
    return written
