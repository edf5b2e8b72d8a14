"""Start-up cost of cxreports' own processes: the command line and the report kernels."""

from __future__ import annotations

import functools
import sys
import threading


def skip_slow_iri_checker() -> None:
    """Keep jsonschema from importing ``rfc3987_syntax`` in this process.

    nbformat (so papermill and nbconvert) imports jsonschema, which imports every format checker
    it finds installed; ``rfc3987_syntax`` (installed with JupyterLab's dependencies) builds
    some 35 parsers when imported, about 1.7 s on every start of the command line and of every
    report kernel (python-jsonschema/jsonschema#1428). Without it jsonschema only lacks its
    ``iri`` format check, which no schema cxreports validates uses. Called first thing by the
    command line and the report kernels; a library user's own process is left as it is.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def import_weasyprint() -> None:
    """Import WeasyPrint, finding its C libraries in the linker's cache only.

    WeasyPrint tries several names for each library (Windows and macOS ones first); every name
    that does not load makes ctypes' ``find_library`` run ``ldconfig -p`` and then the C
    compiler and linker to search for it: about 0.3 s of every process that prints a PDF (a
    report kernel, the command line). While WeasyPrint is imported, a name is looked up in one
    ``ldconfig -p`` listing instead, as ctypes' first try does; a library the listing lacks is
    still loaded by its full name (``libpango-1.0.so.0``), which WeasyPrint tries last and
    which needs no search. Without ``ldconfig`` the lookup is ctypes' own.
    """
    import ctypes.util

    # one thread at a time (a kernel imports it in the background while its first report
    # may already print): each restores the lookup it found, which must be ctypes' own
    with _IMPORTING:
        if "weasyprint" in sys.modules:
            return
        original = ctypes.util.find_library
        listing = _linker_cache()
        if listing is not None:
            ctypes.util.find_library = functools.partial(_in_listing, listing)
        try:
            import weasyprint  # noqa: F401
        finally:
            ctypes.util.find_library = original


_IMPORTING = threading.Lock()


#: ``ldconfig -p``'s name of this machine's ABI, as ctypes matches it (64-bit machines).
_ABI = {
    "x86_64": "libc6,x86-64",
    "ppc64": "libc6,64bit",
    "sparc64": "libc6,64bit",
    "s390x": "libc6,64bit",
    "ia64": "libc6,IA-64",
}


def _in_listing(listing: str, name: str) -> str | None:
    """The file name of library ``name`` in an ``ldconfig -p`` listing, as ctypes finds it."""
    import os
    import re
    import struct

    machine = os.uname().machine
    abi = _ABI.get(machine, "libc6") if struct.calcsize("l") == 8 else "libc6"
    found = re.search(rf"\s+(lib{re.escape(name)}\.[^\s]+)\s+\({re.escape(abi)}", listing)
    return found.group(1) if found else None


@functools.cache
def _linker_cache() -> str | None:
    import subprocess

    try:
        done = subprocess.run(
            ["/sbin/ldconfig", "-p"],
            capture_output=True,
            env={"LC_ALL": "C", "LANG": "C"},
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode("utf-8", "replace")
