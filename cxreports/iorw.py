"""Writing files so that a reader never sees half of one (temp file, fsync, rename), and
holding a lock file so that two writers never run at once."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from cxreports.exceptions import OutputError

_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_NOT_WRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
#: Errors that say where a write went wrong whichever call raised them; others raised while
#: a temporary file is being written (a source that cannot be read) pass through unchanged.
WRITE_ERRNOS = _NO_ROOM | {errno.EROFS}
_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def output_error(exc: OSError, path: str | Path) -> OutputError:
    """A one-line :class:`OutputError` for ``exc``: the path, what is wrong, and what to do.

    Examples
    --------
    >>> print(output_error(OSError(errno.ENOSPC, "No space left on device"), "out/r.pdf"))
    out/r.pdf: no space left on the device (disk full or quota used up); free some space or \
choose another output folder, then run again
    """
    code = exc.errno
    if code in _NO_ROOM:
        what = (
            "no space left on the device (disk full or quota used up); free some space or "
            "choose another output folder, then run again"
        )
    elif code in _NOT_WRITABLE:
        what = (
            "not writable (permission denied or a read-only file system); choose a folder "
            "you can write to, or fix its permissions"
        )
    elif code == errno.ELOOP or (os.path.islink(path) and not os.path.exists(path)):
        what = (
            "a symbolic link that leads nowhere (a loop or a missing target); fix or remove "
            "the link, or choose another output folder"
        )
    elif code in (errno.ENOTDIR, errno.EEXIST):
        what = (
            "a file is in the way where a folder is needed; move the file or choose another "
            "output folder"
        )
    elif code == errno.EISDIR:
        what = "a folder is in the way where a file is needed; move the folder away"
    elif code == errno.ENAMETOOLONG:
        what = "the path is too long; choose a shorter output folder"
    else:
        what = f"cannot be written ({exc.strerror or exc}); check the path and the free space"
    return OutputError(f"{path}: {what}")


def _errno(exc: BaseException) -> int | None:
    """The errno of an OSError, or of a Rust I/O error that a writer such as polars wrapped in
    its own exception (its message ends in "(os error 28)")."""
    if isinstance(exc, OSError):
        return exc.errno
    found = _RUST_OS_ERROR.search(str(exc))
    return int(found[1]) if found else None


def ensure_dir(path: str | Path) -> Path:
    """Create the folder ``path`` (and its parents) if missing; an :class:`OutputError` if not.

    The folder is also tried with a hidden file, created and removed at once, so a folder
    that exists but cannot be written to fails here and not halfway through a run.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".cxreports-probe.", dir=path)
    except OSError as exc:
        raise output_error(exc, exc.filename or path) from exc
    os.close(fd)
    os.unlink(probe)
    return path


def remove_dead(folder: Path, name: re.Pattern[str]) -> None:
    """Remove what processes that are gone left in ``folder``: the files and folders whose
    name matches ``name`` (its first group the writer's pid) and whose pid no longer runs. A
    run killed half-way (kill -9) cleans nothing up; the next one does it for it, and leaves a
    live run's own alone."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        match = name.match(entry.name)
        if match is None or _process_alive(int(match.group(1))):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            Path(entry.path).unlink(missing_ok=True)


#: A temporary file of :func:`atomic_path`: ``.{stem}.{pid}-{random}.tmp{suffix}``.
_TEMPORARY = re.compile(r"\..*\.(\d+)-[a-z0-9_]+\.tmp(\.[^.]*)?$")

#: The folders this process has cleaned of dead writers' temporary files (once each: a folder
#: of thousands of pages is not listed again for every page written into it).
_SWEPT: set[Path] = set()


def _process_alive(pid: int) -> bool:
    """Whether a process with this id runs (one of another user's counts as running)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success move it onto ``target``.

    The temporary file lives in the same folder (so the final ``os.replace`` is atomic; the
    folder is created if missing) and is hidden (its name starts with a dot); its name carries
    the writer's process id, so that the temporary files of writers killed half-way (kill -9:
    no clean-up runs) are removed by the next process that writes into the folder. On success it is
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
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.parent not in _SWEPT:
            _SWEPT.add(target.parent)
            remove_dead(target.parent, _TEMPORARY)
        fd, name = tempfile.mkstemp(
            prefix=f".{target.stem}.{os.getpid()}-",
            suffix=f".tmp{target.suffix}",
            dir=target.parent,
        )
    except OSError as exc:
        raise output_error(exc, exc.filename or target.parent) from exc
    os.close(fd)
    tmp = Path(name)
    try:
        try:
            yield tmp
        except Exception as exc:
            if _errno(exc) not in WRITE_ERRNOS:
                raise
            raise output_error(OSError(_errno(exc), str(exc)), target) from exc
        try:
            with open(tmp, "rb") as written:
                os.fsync(written.fileno())
            tmp.chmod(0o644)
            os.replace(tmp, target)
        except OSError as exc:
            raise output_error(exc, target) from exc
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
    ensure_dir(path.parent)
    try:
        handle = open(path, "a+")  # noqa: SIM115 (a `with` follows at once)
    except OSError as exc:
        raise output_error(exc, path) from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise busy(path) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
