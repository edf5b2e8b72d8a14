"""Faults a test can inject for real: a disk that is full, a folder even root cannot write."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from fnmatch import fnmatch
from pathlib import Path

import pytest


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``full_disk("*.pdf*")``: temporary files whose name matches are written to /dev/full.

    Every output is written to a temporary file first (``cxreports.iorw.atomic_path``); here
    that file is a symbolic link to /dev/full, so the kernel itself answers the write with
    ENOSPC, at whatever call the writer (papermill, WeasyPrint, polars) makes.
    """
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    real = tempfile.mkstemp

    def install(pattern: str) -> None:
        def mkstemp(*args, **kwargs):
            fd, name = real(*args, **kwargs)
            if fnmatch(os.path.basename(name), pattern):
                os.close(fd)
                os.unlink(name)
                os.symlink("/dev/full", name)
                fd = os.open(name, os.O_WRONLY)
            return fd, name

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)

    return install


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody can create files in, root included (the immutable attribute).

    Root ignores permission bits, so as root the folder is made immutable (``chattr +i``);
    the test is skipped only where the file system has no such attribute.
    """
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if not chattr or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("running as root on a file system without chattr +i: nothing is read-only")
    try:
        yield folder
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)
