"""Whether JSON text repeats a key in one object, and the text with each key once.

A key repeated in one object (``{"caseId": 7, "caseId": 8}``) keeps its **last** value in
every JSON reader but polars', which keeps the first when given a schema (pola-rs/polars#29476).
The loader asks :func:`keys_once` of every file before polars' one-call reader sees it, and
gives the reader a file that repeats a key without the earlier pairs of each repeated key:
every other byte as it was, so the file's other records meet the same reader.

The scan is written in C (``_jsonkeys.c``, built when the package is installed): it skips
strings and their escapes, tracks the objects open around each byte and looks each key up in
a hash table of the open objects' keys. It reads several hundred MB a second and releases the
GIL, so the loader's worker threads scan files in parallel. Where it cannot tell cheaply (a
key written with a backslash escape: ``"caseId"`` and ``"case\\u0049d"`` are one key; more
than :data:`MAX_OPEN_KEYS` keys open at once; keys chosen to collide in its table, past
:data:`MAX_PROBES` slots) it says so, and the standard library's parser decides.
"""

from __future__ import annotations

try:
    from cxreports._jsonkeys import MAX_OPEN_KEYS, MAX_PROBES
    from cxreports._jsonkeys import keys_once as _keys_once
    from cxreports._jsonkeys import page_records as _page_records
except ImportError as exc:  # pragma: no cover - an install without its compiled part
    raise ImportError(
        "cxreports' compiled part (cxreports._jsonkeys) is missing: install the package with "
        "a C compiler present (./dev.sh setup, or pip install -e . after apt install gcc)"
    ) from exc

__all__ = ["MAX_OPEN_KEYS", "MAX_PROBES", "keys_once", "page_records"]


def keys_once(data: bytes) -> tuple[bool, bytes | None]:
    """Whether some object in the JSON text ``data`` repeats a key (or may: see above), and
    ``data`` without the earlier pairs of each repeated key, from a pair's opening quote to
    its comma: None where it cannot tell cheaply.

    >>> keys_once(b'{"a": 1, "b": 2, "a": 3}')
    (True, b'{ "b": 2, "a": 3}')
    >>> keys_once(b'{"a": 1, "b": {"a": 2}}')
    (False, None)
    """
    return _keys_once(data)


def page_records(data: bytes) -> tuple[bool, bytes | None, tuple[int, int, int] | None]:
    """:func:`keys_once` of ``data``, and where an API page keeps its records: the byte span
    ``(start, end)`` of the array at ``cxLogs.data`` with its number of elements, found in
    the same pass. The span is None unless the text is one object, every object and array in
    it is closed, no object repeats a key, and every element of that array is an object.

    >>> page_records(b'{"cxLogs": {"data": [{"id": "a"}, {"id": "b"}]}}')
    (False, None, (20, 46, 2))
    >>> page_records(b'{"cxLogs": {"data": [{"id": "a"}, null]}}')[2] is None
    True
    """
    return _page_records(data)
