"""Writing files so that a reader never sees half of one (temp file, fsync, rename), and
holding a lock file so that two writers never run at once."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success move it onto ``target``.

    The temporary file lives in the same folder (so the final ``os.replace`` is atomic; the
    folder is created if missing) and is hidden (its name starts with a dot). On success it is
    flushed to disk, gets mode 0o644 and replaces ``target``; on any exception it is deleted
    and ``target`` is left as it was.

    Examples
    --------
    >>> out = Path(tempfile.mkdtemp()) / "report.html"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("<p>done</p>")
    >>> out.read_text()
    '<p>done</p>'
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        tmp.chmod(0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically (see :func:`atomic_path`)."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


@contextlib.contextmanager
def exclusive_lock(path: str | Path, busy: Callable[[Path], Exception]) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing); raise ``busy(path)`` if taken.

    The lock is the operating system's (``flock``): it is released when the holder exits,
    even after a crash, so a stale lock file never blocks the next run.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise busy(path) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
