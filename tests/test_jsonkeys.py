"""The scan that tells the loader a JSON text repeats a key in one object."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxreports.jsonkeys import MAX_OPEN_KEYS, MAX_PROBES, keys_once, page_records

# few keys, so that objects repeat them often; some look like JSON themselves
KEYS = st.sampled_from(["a", "b", "id", "{", "}", "[", ",", ":", '"', "a\\", "é", "🙂", "a b"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    KEYS,
)


def repeats_a_key(data: bytes) -> bool:
    """The scan's answer alone."""
    return keys_once(data)[0]


class Pairs(list):
    """An object as JSON writes it: its pairs in order, a key possibly more than once."""


VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.tuples(KEYS, inner), max_size=5).map(Pairs),
    ),
    max_leaves=25,
)


def _dump(value: Any, ascii_only: bool, space: str) -> str:
    if isinstance(value, Pairs):
        body = f",{space}".join(
            f"{json.dumps(k, ensure_ascii=ascii_only)}:{space}{_dump(v, ascii_only, space)}"
            for k, v in value
        )
        return "{" + space + body + space + "}"
    if isinstance(value, list):
        return "[" + f",{space}".join(_dump(v, ascii_only, space) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def _repeats(text: str) -> bool:
    """The reference: the standard library's parser, told each object's pairs."""
    found = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        keys = [k for k, _ in items]
        found = found or len(set(keys)) < len(keys)
        return dict(items)

    json.loads(text, object_pairs_hook=pairs)
    return found


@settings(max_examples=400, deadline=None)
@given(VALUES, st.booleans(), st.sampled_from(["", " ", "\n  ", "\t"]))
def test_the_scan_finds_every_repeated_key_and_no_other(
    value: Any, ascii_only: bool, space: str
) -> None:
    text = _dump(value, ascii_only, space)
    repeated = _repeats(text)
    said = repeats_a_key(text.encode())
    # the page scan gives the same answer and text
    assert page_records(text.encode())[:2] == keys_once(text.encode())
    # and the text without each repeated key's earlier pairs: every key once, the last value
    _, once = keys_once(text.encode())
    if said and once is not None:
        assert not _repeats(once.decode()), once
        assert json.loads(once) == json.loads(text)
    if repeated:
        assert said, text
    elif not any("\\" in json.dumps(k, ensure_ascii=ascii_only) for k in _keys(value)):
        # a key written with an escape may be the same key spelled two ways: the scan says
        # yes to be safe; with no key escaped it is exact
        assert not said, text


def _keys(value: Any) -> list[str]:
    if isinstance(value, Pairs):
        return [k for k, v in value for k in (k, *_keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []


@pytest.mark.parametrize(
    ("text", "repeated"),
    [
        ('{"a": 1, "b": {"a": 2}, "c": 3}', False),  # the same key in a nested object
        ('{"a": 1, "b": {"c": 2}, "a": 3}', True),  # after a nested object closed
        ('[{"a": 1}, {"a": 2}]', False),  # sibling objects
        ('{"a": 1}\n{"a": 2}\n', False),  # JSON lines
        ('{"a": 1}\n{"b": 1, "b": 2}\n', True),
        ('{"s": "{\\"a\\": 1, \\"a\\": 2}", "a": 1}', False),  # JSON inside a string
        ('{"a": [1, {"a": 2, "b": 3}], "b": 1}', False),
        ('{"a": [1, {"a": 2, "b": 3}], "b": 1, "a": 0}', True),
        ('{"ab": 1, "ba": 2, "a": 3, "b": 4}', False),
        ('{"a": 1, "\\u0061": 2}', True),  # one key, spelled two ways
        ("", False),
        ("}}]]", False),  # not JSON: the parsers say so
    ],
)
def test_the_scan_reads_objects_strings_and_lines(text: str, repeated: bool) -> None:
    assert repeats_a_key(text.encode()) is repeated


def test_the_scan_follows_any_depth_and_says_yes_where_it_cannot_tell_cheaply() -> None:
    """More keys open than it holds, or a look-up walking past MAX_PROBES slots (keys chosen to
    collide): the standard library's parser decides, as for a key written with an escape."""
    deep = '{"a":' * 5000 + "1" + "}" * 5000  # deeper than any parser here reads: not its call
    assert not repeats_a_key(deep.encode())
    assert repeats_a_key(('{"a":' * 5000 + '{"b":1,"b":2}' + "}" * 5000).encode())
    wide = "{" + ",".join(f'"k{i}": {i}' for i in range(MAX_OPEN_KEYS + 1)) + "}"
    assert repeats_a_key(wide.encode())
    assert not repeats_a_key(wide.replace(f',"k{MAX_OPEN_KEYS}": {MAX_OPEN_KEYS}', "").encode())
    # keys whose hashes all fall in the table's first slot (its first object's, 4,096 slots;
    # the hash as _jsonkeys.c computes it): each look-up walks the keys before it
    colliding = []
    for i in itertools.count():
        key = f"k{i}"
        h = 14695981039346656037
        for byte in key.encode():
            h = ((h ^ byte) * 1099511628211) % 2**64
        v = h ^ 0xD6E8FEB86659FD93
        if (v * 0x9E3779B97F4A7C15) % 2**64 >> (64 - 12) == 0:
            colliding.append(key)
            if len(colliding) == MAX_PROBES + 2:
                break

    def keyed(keys: list[str]) -> bytes:
        return ("{" + ",".join(f'"{k}": 1' for k in keys) + "}").encode()

    assert not repeats_a_key(keyed(colliding[: MAX_PROBES - 4]))
    assert repeats_a_key(keyed(colliding))


@pytest.mark.parametrize(
    ("text", "records"),
    [
        ('{"cxLogs": {"data": [{"a": 1}, {"b": [1, {}]}], "n": 2}}', '[{"a": 1}, {"b": [1, {}]}]'),
        ('{"id": "r", "cxLogs": {"page": 1, "data": []}}', "[]"),
        ('{"cxLogs":{"data":[\n  {"data": [{"x": 1}]}\n ]}}', '[\n  {"data": [{"x": 1}]}\n ]'),
        ('{"cxLogs": {"data": [{"s": "]}\\""}]}}', '[{"s": "]}\\""}]'),  # brackets in a string
        ('{"cxLogs": {"data": [null]}}', None),  # an element that is not an object
        ('{"cxLogs": {"data": [{}, 1]}}', None),
        ('{"cxLogs": {"data": [{}, []]}}', None),
        ('{"cxLogs": {"data": [{}]}', None),  # the page not closed
        ('{"cxLogs": {"data": [{}], "data": []}}', None),  # a repeated key: the last is read
        ('{"cxLogs": {"meta": {"data": [{}]}}}', None),  # no data array in cxLogs itself
        ('{"x": {"cxLogs": {"data": [{}]}}}', None),
        ('{"cxLogs": [{"data": [{}]}]}', None),
        ('{"cxLogs": {"data": {"0": {}}}}', None),
        ('{"cx\\u004cogs": {"data": [{}]}}', None),  # a key with an escape: not told cheaply
        ('[{"cxLogs": {"data": [{}]}}]', None),
    ],
)
def test_the_page_scan_finds_the_records_array_and_only_it(text: str, records: str | None) -> None:
    data = text.encode()
    span = page_records(data)[2]
    if records is None:
        assert span is None
        return
    start, end, count = span
    assert data[start:end].decode() == records
    assert count == len(json.loads(records))
