"""Property tests of the loader: mutated records and damaged files never break a load.

Records start from the seed page and the shared sample page and get their fields replaced,
nulled, removed or given values of another type; pages are written in every format the loader
reads, and their bytes may be cut. Whatever happens, every record read is loaded, superseded or
quarantined with a reason, and the only exception a load raises is ``InvalidRecordError``
under ``strict``.
"""

from __future__ import annotations

import copy
import gzip
import json
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxreports import InvalidRecordError, load
from cxreports import schema as S

from .conftest import SEED_PAGE

SAMPLE_PAGE = Path("/work/shared/samples/cx_logs_api_page.json")
BASES = [
    json.loads(page.read_text())["cxLogs"]["data"][0]
    for page in (SEED_PAGE, SAMPLE_PAGE)
    if page.is_file()
]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key and list index of a record, as paths from its top."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


PATHS = sorted({path for base in BASES for path in _paths(base)}, key=repr)

_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)
_TIMES = st.sampled_from(
    [
        "2026-03-30 08:30:00+00",
        "2026-03-30T08:30:05.123Z",
        "9999-12-31T23:59:59Z",
        "0001-01-01 00:00:00+00",
        "2026-02-30T00:00:00Z",
        "",
        " ",
    ]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([-1, 0, 1, 2**53 + 1, 2**63, -(2**63) - 1, 10**9]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([12.7, -0.5, 1e300, 5e-324, 2592001.0]),
    _TEXT,
    _TIMES,
    st.sampled_from(["12", "1e3", "\U0001f600\u202e\u0000", "\ufeff"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_TEXT, inner, max_size=3)),
    max_leaves=6,
)
_DROP = object()
_MUTATION = st.tuples(st.sampled_from(PATHS), st.one_of(st.just(_DROP), _VALUES))


def _mutate(record: dict, mutations: list[tuple[tuple, Any]]) -> dict:
    record = copy.deepcopy(record)
    for path, value in mutations:
        node: Any = record
        for step in path[:-1]:
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                break
        else:
            leaf = path[-1]
            fits = isinstance(node, dict) or (
                isinstance(node, list) and isinstance(leaf, int) and leaf < len(node)
            )
            if not fits:
                continue
            if value is _DROP:
                node.pop(leaf, None) if isinstance(node, dict) else node.pop(leaf)
            else:
                node[leaf] = value
    return record


@st.composite
def _records(draw: st.DrawFn) -> list[Any]:
    records = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["record", "record", "record", "other"]))
        if kind == "other":
            records.append(draw(_VALUES))
            continue
        base = draw(st.sampled_from(BASES))
        mutations = draw(st.lists(_MUTATION, max_size=4))
        record = _mutate(base, mutations)
        if isinstance(record, dict) and draw(st.booleans()):
            record["id"] = draw(st.sampled_from(["a", "b", "c"]))  # versions of one id
        records.append(record)
    return records


def _encode(records: list[Any], layout: str) -> bytes:
    if layout == "page":
        doc: Any = {"requestId": "r", "cxLogs": {"data": records, "total": len(records)}}
        return json.dumps(doc).encode()
    if layout == "list":
        return json.dumps(records).encode()
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def _check(folder: Path, files: list[Path]) -> None:
    """The invariants of any load of ``folder``, lenient and strict."""
    logs = load(folder)
    assert logs.records_read == logs.loaded + logs.superseded + logs.quarantined
    assert set(logs.quarantine["source_file"]) <= {str(f) for f in files}
    assert logs.quarantine["reason"].str.len_chars().min() or not logs.quarantined
    assert logs.interactions["id"].is_unique().all()
    assert logs.interactions["id"].str.strip_chars().str.len_chars().min() or not logs.loaded
    for name, frame in logs.tables().items():
        assert frame.schema == S.TABLES[name], name
    # positions name a record (or, when null, the whole file) and each at most once
    positions = logs.quarantine.select("source_file", "position").drop_nulls()
    assert positions.is_unique().all()
    try:
        strict = load(folder, strict=True)
    except InvalidRecordError as exc:
        assert logs.quarantined, f"strict raised but nothing was quarantined: {exc}"
        assert str(exc).startswith(logs.quarantine.sort("source_file")["source_file"][0])
    else:
        assert not logs.quarantined
        assert strict.interactions.equals(logs.interactions)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(records=_records(), layout=st.sampled_from(["page", "list", "lines"]))
def test_mutated_records_are_loaded_or_quarantined_with_a_reason(records, layout):
    name = {"page": "p.json", "list": "l.json", "lines": "r.ndjson"}[layout]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(_encode(records, layout))
        logs = load(path)
        whole_file = logs.quarantine.filter(logs.quarantine["position"].is_null()).height
        if whole_file:
            # NaN and Infinity literals are not JSON: the file is rejected, as one item
            assert (logs.records_read, logs.quarantined) == (1, 1)
        else:
            # every record of an intact file is accounted for, one by one
            assert logs.records_read == len(records)
        _check(Path(tmp), [path])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    records=_records(),
    layout=st.sampled_from(["page", "list", "lines"]),
    cut=st.floats(0, 1),
    gz=st.booleans(),
    cut_after_gzip=st.booleans(),
    bom=st.booleans(),
    noise=st.binary(max_size=4),
)
def test_damaged_files_never_break_a_load(records, layout, cut, gz, cut_after_gzip, bom, noise):
    data = (b"\xef\xbb\xbf" if bom else b"") + _encode(records, layout)
    if not (gz and cut_after_gzip):
        data = data[: int(len(data) * cut)] + noise
    if gz:
        data = gzip.compress(data)
        if cut_after_gzip:
            data = data[: int(len(data) * cut)]
    name = {"page": "p.json", "list": "l.json", "lines": "r.ndjson"}[layout]
    with tempfile.TemporaryDirectory() as tmp:
        # the damaged file first, as the file that used to stop every load was
        bad = Path(tmp) / ("a" + name + (".gz" if gz else ""))
        bad.write_bytes(data)
        good = Path(tmp) / "z.json"
        good.write_bytes(_encode(BASES[:1], "page"))
        logs = load(tmp)
        assert "uuid-string" in logs.interactions["id"].to_list()
        _check(Path(tmp), [bad, good])


_ENVELOPES = st.sampled_from(
    [
        # (keys of the page before cxLogs, keys of cxLogs before data, after data, indent)
        ({"requestId": "r"}, {}, {"total": 1}, None),
        ({}, {"page": 1, "data2": [{"id": "x"}]}, {}, 2),
        ({"meta": {"data": [{"id": "not a record"}]}}, {"cursor": None}, {"next": "b"}, None),
        ({"cxLog": {"data": []}}, {"Data": [{}]}, {"totals": {"data": [1]}}, "\t"),
    ]
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    records=_records(),
    envelope=_ENVELOPES,
    cut=st.one_of(st.none(), st.floats(0, 1)),
    noise=st.sampled_from([b"", b" ", b"\n", b"}", b"]", b",", b"{}", b"x"]),
)
def test_a_page_read_from_its_records_array_loads_as_the_whole_page_does(
    records, envelope, cut, noise
):
    """The loader reads a usual page's records from the bytes of its cxLogs.data array alone:
    whatever the records, the page around them (all of it JSON that polars reads: see
    test_load.py for the rest) and where the page is cut, the load is the one of the whole page."""
    before, inside, after, indent = envelope
    doc = {**before, "cxLogs": {**inside, "data": records, **after}}
    data = json.dumps(doc, indent=indent).encode()
    if cut is not None:
        data = data[: int(len(data) * cut)]
    data += noise
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.json"
        path.write_bytes(data)
        fast = load(path)
        with mock.patch("cxreports.load._records_of_page", lambda *args: None):
            whole = load(path)
    assert (fast.records_read, fast.loaded, fast.superseded, fast.quarantined) == (
        whole.records_read,
        whole.loaded,
        whole.superseded,
        whole.quarantined,
    )
    for name, frame in whole.tables().items():
        assert fast.tables()[name].equals(frame), name
    assert fast.quarantine.equals(whole.quarantine)
    assert fast.fingerprint == whole.fingerprint
