"""Whether JSON text repeats a key in one object, found in one pass over its bytes.

A key repeated in one object (``{"caseId": 7, "caseId": 8}``) keeps its **last** value in
every JSON reader but polars', which keeps the first when given a schema (pola-rs/polars#29476).
The loader asks :func:`repeats_a_key` of every file before polars' one-call reader sees it
and sends a file that answers yes to the record-by-record path, whose reader keeps the last.

The scan is written in C (``_jsonkeys.c``, built when the package is installed): it skips
strings and their escapes, tracks the objects open around each byte and looks each key up in
a hash table of the open objects' keys. It also answers yes, to be safe, where it cannot tell
cheaply: a key written with a backslash escape (``"caseId"`` and ``"case\\u0049d"`` are one
key), more than :data:`MAX_OPEN_KEYS` keys open at once, a look-up in its table past
:data:`MAX_PROBES` slots (keys chosen to collide). Those files only take the slower path, where
the standard library's parser decides. It reads several hundred MB a second and releases the
GIL, so the loader's worker threads scan files in parallel.
"""

from __future__ import annotations

try:
    from cxreports._jsonkeys import MAX_OPEN_KEYS, MAX_PROBES, repeats_a_key
except ImportError as exc:  # pragma: no cover - an install without its compiled part
    raise ImportError(
        "cxreports' compiled part (cxreports._jsonkeys) is missing: install the package with "
        "a C compiler present (./dev.sh setup, or pip install -e . after apt install gcc)"
    ) from exc

__all__ = ["MAX_OPEN_KEYS", "MAX_PROBES", "repeats_a_key"]
