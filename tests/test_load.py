from __future__ import annotations

import copy
import gzip
import importlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from cxreports import InvalidRecordError, SourceNotFoundError, load
from cxreports import schema as S
from cxreports.load import CxLogs, parse_timestamp, parse_timestamp_columns

from .conftest import SEED_PAGE


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_seed_page_loads_exactly_the_values_it_holds():
    logs = load(SEED_PAGE)
    assert (logs.records_read, logs.loaded, logs.superseded, logs.quarantined) == (1, 1, 0, 0)
    row = logs.interactions.row(0, named=True)
    expected = {
        "id": "uuid-string",
        "case_id": 12540,
        "agent_id": "uuid-string",
        "agent_name": "Sarah Jenkins",
        "queue_name": "Tier 2 Technical Support",
        "channel": "messenger",
        "channel_name": "Klink Asia Facebook",
        "direction": "inbound",
        "started_at": utc(2026, 3, 30, 8, 30),
        "closed_at": utc(2026, 3, 30, 9, 15, 20),
        "created_at": utc(2026, 3, 30, 8, 30, 5, 123000),
        "updated_at": utc(2026, 3, 30, 9, 15, 25),
        "deleted_at": None,
        "handled_time_s": 2720.0,
        "full_handled_time_s": 2765.0,
        "hold_time_s": 45.0,
        "hold_count": 1,
        "wrap_up_time_s": 180.0,
        "first_response_time_s": 120.0,
        "resolution_time_s": 2905.0,
        "full_resolution_time_s": 2965.0,
        "disposition": "Resolved",
        "sla_status": "meet",
        "csat_status": "sent",
        "csat_score": None,
        "is_bot": False,
        "is_ai_agent": False,
        "partition_key": "2026_03",
        "source_position": 0,
    }
    assert {k: row[k] for k in expected} == expected
    assert logs.holds.rows() == [
        ("uuid-string", "uuid-string", utc(2026, 3, 30, 8, 45), utc(2026, 3, 30, 8, 45, 45),
         45.0, "uuid-string"),
    ]  # fmt: skip
    assert logs.labels["label"].to_list() == ["Premium Support", "Technical-V2"]
    assert logs.wrap_up_categories.select("value", "parent_id", "level").rows() == [
        ("Technical Support", None, 1),
        ("Account Issues", "uuid-string", 2),
    ]
    assert logs.wrap_up_tags["name"].to_list() == ["First-Contact Resolution"]
    assert logs.custom_fields.select("system_name", "display_name", "type", "value").rows() == [
        ("software_version", "Software Version", "text", "v2.5.1"),
        ("urgency", "Urgency Level", "select", "High"),
    ]


def test_every_table_has_its_declared_schema(sample_dir: Path):
    logs = load(sample_dir)
    for name, frame in logs.tables().items():
        assert frame.schema == S.TABLES[name], name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-30 08:30:00.000+00", utc(2026, 3, 30, 8, 30)),
        ("2026-03-30 09:15:20+00", utc(2026, 3, 30, 9, 15, 20)),
        ("2026-03-30T08:30:05.123Z", utc(2026, 3, 30, 8, 30, 5, 123000)),
        ("2026-03-30T08:30:05Z", utc(2026, 3, 30, 8, 30, 5)),
        ("2026-03-30T16:30:05+08:00", utc(2026, 3, 30, 8, 30, 5)),
        ("2026-03-30 16:30:05.5+0800", utc(2026, 3, 30, 8, 30, 5, 500000)),
        ("2026-03-30 03:00:00-05", utc(2026, 3, 30, 8, 0)),
        ("2026-03-30 08:30:00", utc(2026, 3, 30, 8, 30)),
        ("2026-03-30", None),
        ("30/03/2026 08:30", None),
        ("", None),
    ],
)
def test_parse_timestamp_formats(text: str, expected: datetime | None):
    out = pl.select(parse_timestamp(pl.lit(text, dtype=pl.String))).item()
    assert out == expected


TIMESTAMP_CASES = [
    "2026-03-30 08:30:00.000+00",
    "2026-03-30T08:30:05.123Z",
    "2026-03-30T08:30:05Z",
    "2026-03-30T16:30:05+08:00",
    "2026-03-30 16:30:05.5+0800",
    "2026-03-30 03:00:00-05",
    "2026-03-30 08:30:00",
    " 2026-03-30t08:30:05z ",
    "2026-03-30T08:30:05.123456Z",
    "2026-03-30 09:15:20+00",
    # near misses of the fixed-width forms: the fast pass must reject them or agree
    "2026-03-30T08:30:05.12Z",
    "2026-03-30T08:30:05.1234Z",
    "2026-03-30T08:30:05.12aZ",
    "2026-03-30X08:30:05.123Z",
    "2026-02-30T08:30:05.123Z",
    "2026-03-30T24:30:05.123Z",
    "2026-03-30T08:30:60.123Z",
    "2026-03-30 08:30:00.500-00",
    "2026-03-30 08:30:00.500+01",
    "2026-03-30 08:30:00.1+00",
    "2026-03-30 08:30:00+0",
    "2026-03-30 08:30:00+000",
    "2026-3-30 08:30:00+00",
    "2026-03-30",
    "30/03/2026 08:30",
    "",
    None,
]


@pytest.mark.parametrize("first", [c for c in TIMESTAMP_CASES if c])
def test_a_column_parses_as_each_value_would(first: str):
    # whichever form leads the column picks the one-pass format; the rest must still agree
    column = pl.Series("t", [first, *TIMESTAMP_CASES], dtype=pl.String)
    expected = pl.select(parse_timestamp(pl.lit(column))).to_series()
    (out,) = parse_timestamp_columns(column.to_frame(), ["t"])
    assert out.dtype == pl.Datetime("us", "UTC") and out.name == "t"
    assert out.to_list() == expected.to_list()


@pytest.mark.parametrize("values", [[], [None, None]])
def test_an_empty_or_null_column_parses_to_nulls(values: list[None]):
    (out,) = parse_timestamp_columns(pl.Series("t", values, dtype=pl.String).to_frame(), ["t"])
    assert out.dtype == pl.Datetime("us", "UTC") and out.null_count() == len(values)


def test_duplicates_across_pages_latest_updated_at_wins(seed_record, write_page):
    newer = {**seed_record, "disposition": "Resolved", "updatedAt": "2026-03-30T10:00:00.000Z"}
    older = {**seed_record, "disposition": "In Progress", "updatedAt": "2026-03-30T09:00:00Z"}
    # the older version sits on the later page: position must not decide, updatedAt does
    first = write_page([newer], "p1.json")
    write_page([older], "p2.json")
    logs = load(first.parent)
    assert (logs.records_read, logs.loaded, logs.superseded) == (2, 1, 1)
    assert logs.interactions["disposition"].to_list() == ["Resolved"]
    assert logs.interactions["source_file"].item().endswith("p1.json")
    # child rows come from the winning version only
    assert logs.labels.height == 2


def test_soft_deleted_rows_stay_flagged(seed_record, write_page):
    seed_record["deletedAt"] = "2026-03-31T00:00:00.000Z"
    logs = load(write_page([seed_record]))
    assert logs.interactions["deleted_at"].to_list() == [utc(2026, 3, 31)]


def _set(record: dict, path: str, value) -> dict:
    *parents, leaf = path.split(".")
    node = record
    for p in parents:
        node = node[p]
    if value is _DROP:
        del node[leaf]
    else:
        node[leaf] = value
    return record


_DROP = object()


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("id", _DROP, "missing id"),
        ("id", None, "missing id"),
        ("startedDate", _DROP, "missing startedDate"),
        ("startedDate", "yesterday", "unparseable timestamp in startedDate: 'yesterday'"),
        ("closedAt", "2026-13-45 99:00:00+00", "unparseable timestamp in closedAt"),
        ("handledTime", "2720", 'wrong type in handledTime: expected a number, got "2720"'),
        ("handledTime", -5, "negative handledTime: expected seconds from 0, got -5.0"),
        ("room.is_bot_room", "no", "wrong type in room.is_bot_room: expected true or false"),
        ("agent", "Sarah", 'wrong type in agent: expected an object, got "Sarah"'),
        ("holdLogs", {"id": 1}, "wrong type in holdLogs: expected a list"),
        ("holdLogs.0.duration", "long", "wrong type in holdLogs[0].duration: expected a number"),
        ("holdLogs.0.started_at", "soon", "unparseable timestamp in holdLogs.started_at"),
        ("room.csat_score", 9, "CSAT score 9.0 is not a whole number from 1 to 5"),
    ],
)
def test_bad_records_are_quarantined_with_reason(seed_record, write_page, path, value, reason):
    good = {**copy.deepcopy(seed_record), "id": "good-one"}
    bad = seed_record
    if path.startswith("holdLogs.0."):
        _set(bad["holdLogs"][0], path.removeprefix("holdLogs.0."), value)
    else:
        _set(bad, path, value)
    page = write_page([good, bad])
    logs = load(page)
    assert (logs.records_read, logs.loaded, logs.quarantined) == (2, 1, 1)
    assert logs.interactions["id"].to_list() == ["good-one"]
    q = logs.quarantine.row(0, named=True)
    assert q["source_file"] == str(page)
    assert q["position"] == 1
    assert q["reason"].startswith("record data[1]: ")
    assert reason in q["reason"]
    with pytest.raises(InvalidRecordError, match=r"page\.json( \(id [^)]*\))?: record data\[1\]"):
        load(page, strict=True)


def test_a_record_that_is_not_an_object_is_quarantined(seed_record, write_page):
    logs = load(write_page([seed_record, 42, "x", None]))
    assert logs.loaded == 1
    assert logs.quarantine["reason"].to_list() == [
        "record data[1]: record is a JSON int, not an object",
        "record data[2]: record is a JSON str, not an object",
        "record data[3]: record is a JSON NoneType, not an object",
    ]
    assert logs.records_read == 4


def test_strict_names_the_first_bad_record_once(seed_record, write_page):
    bad = {**copy.deepcopy(seed_record), "handledTime": "x"}
    page = write_page([seed_record, bad])
    with pytest.raises(InvalidRecordError) as info:
        load(page, strict=True)
    message = str(info.value)
    assert message.startswith(f"{page} (id uuid-string): record data[1]: wrong type in handledTime")
    assert message.count("data[1]") == 1


def test_malformed_and_truncated_files_are_quarantined_whole(tmp_path, seed_record, write_page):
    write_page([seed_record], "good.json")
    text = (tmp_path / "good.json").read_text()
    (tmp_path / "truncated.json").write_text(text[: len(text) // 2])
    (tmp_path / "other.json").write_text('{"hello": "world"}')
    logs = load(tmp_path)
    assert logs.loaded == 1
    reasons = dict(zip(logs.quarantine["source_file"], logs.quarantine["reason"], strict=True))
    assert reasons[str(tmp_path / "truncated.json")].startswith("malformed JSON")
    assert "not a CX-log API page" in reasons[str(tmp_path / "other.json")]
    assert logs.records_read == logs.loaded + logs.superseded + logs.quarantined == 3


def test_ndjson_and_gzip_sources(tmp_path, seed_record, write_page):
    a = {**seed_record, "id": "a"}
    b = {**seed_record, "id": "b", "handledTime": "oops"}
    write_page([a, b], "records.jsonl")
    gz = tmp_path / "page.json.gz"
    gz.write_bytes(gzip.compress(json.dumps({"cxLogs": {"data": [{**a, "id": "c"}]}}).encode()))
    (tmp_path / "broken.ndjson").write_text(json.dumps({**a, "id": "d"}) + "\n{not json\n")
    logs = load(tmp_path)
    assert sorted(logs.interactions["id"].to_list()) == ["a", "c", "d"]
    reasons = sorted(logs.quarantine["reason"].to_list())
    assert reasons[0].startswith("line 2: malformed JSON")
    assert reasons[1].startswith("line 2: wrong type in handledTime")


def test_plain_list_of_records(write_page, seed_record, tmp_path):
    path = tmp_path / "list.json"
    path.write_text(json.dumps([seed_record]))
    assert load(path).loaded == 1


def test_csat_score_field_is_configurable(seed_record, write_page):
    seed_record["room"]["csat_score"] = 2
    seed_record["wrapUpForm"]["rating"] = 5
    page = write_page([seed_record])
    assert load(page).interactions["csat_score"].to_list() == [2]
    assert load(page, csat_score_field="wrapUpForm.rating").interactions[
        "csat_score"
    ].to_list() == [5]
    assert load(page, csat_score_field="survey.score").interactions["csat_score"].to_list() == [
        None
    ]


def test_sources_errors_name_the_path(tmp_path):
    with pytest.raises(SourceNotFoundError, match=r"nope\.json: no such file"):
        load(tmp_path / "nope.json")
    with pytest.raises(SourceNotFoundError, match="directory holds no"):
        load(tmp_path)
    with pytest.raises(SourceNotFoundError, match="matches no readable file"):
        load(str(tmp_path / "*.json"))


def test_glob_and_empty_page(tmp_path, write_page, seed_record):
    write_page([], "empty.json")
    write_page([seed_record], "one.json")
    logs = load(str(tmp_path / "*.json"))
    assert (logs.loaded, logs.quarantined, len(logs.files)) == (1, 0, 2)


def test_sample_counts_add_up_and_child_tables_match_nested_lists(sample_dir):
    logs = load(sample_dir)
    assert logs.records_read == logs.loaded + logs.superseded + logs.quarantined
    assert logs.superseded > 0 and logs.quarantined == 0
    assert logs.interactions["id"].is_unique().all()
    # every superseded record was an "In Progress" older version
    assert "In Progress" not in logs.interactions["disposition"].to_list()
    # hold_count equals the hold rows of each interaction
    counts = logs.holds.group_by("id").len()
    joined = logs.interactions.join(counts, on="id", how="left").with_columns(
        pl.col("len").fill_null(0)
    )
    assert (joined["hold_count"] == joined["len"]).all()
    # hold time equals the sum of hold durations
    sums = logs.holds.group_by("id").agg(pl.col("duration_s").sum())
    j = logs.interactions.join(sums, on="id")
    assert (j["hold_time_s"] == j["duration_s"]).all()


def test_how_files_are_grouped_does_not_change_the_result(
    sample_dir: Path, tmp_path: Path, seed_record, monkeypatch: pytest.MonkeyPatch
):
    # the sample's pages plus a malformed file and a page with a bad record, read in one
    # group per file and then in the default groups: tables, order and quarantine agree
    source = tmp_path / "pages"
    source.mkdir()
    for page in sorted(sample_dir.glob("*.json"))[:12]:
        (source / page.name).write_bytes(page.read_bytes())
    (source / "cx_logs_page_0004.json").write_text('{"cxLogs": {"data": [')
    bad = {**seed_record, "handledTime": -5}
    (source / "cx_logs_page_0007b.json").write_text(
        json.dumps({"cxLogs": {"data": [seed_record, bad]}})
    )
    # pages that are read apart from the others: a null record, null data, and no data
    other = {**seed_record, "id": "other"}
    (source / "cx_logs_page_0008b.json").write_text(json.dumps({"cxLogs": {"data": [other, None]}}))
    (source / "cx_logs_page_0009b.json").write_text(json.dumps({"cxLogs": {"data": None}}))
    (source / "cx_logs_page_0010b.json").write_text(json.dumps({"cxLogs": {}}))
    (source / "cx_logs_page_0011b.json").write_text(json.dumps({"cxLogs": {"data": []}}))
    default = load(source)
    monkeypatch.setattr(importlib.import_module("cxreports.load"), "GROUP_BYTES", 1)
    one_by_one = load(source)
    assert default.quarantined == 5 and default.superseded > 0
    assert "other" in default.interactions["id"].to_list()
    assert one_by_one.summary() == default.summary()
    for name in ("interactions", *S.CHILD_TABLES, "quarantine"):
        assert getattr(one_by_one, name).equals(getattr(default, name)), name


def _page_bytes(records: list) -> bytes:
    return json.dumps({"cxLogs": {"data": records}}).encode()


def _lines_bytes(records: list) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("a.json", b"", "the file is empty (0 bytes)"),
        ("a.ndjson", b"", "the file is empty (0 bytes)"),
        ("a.json", b" \n\t\r\n", "the file is empty (only whitespace)"),
        ("a.jsonl", b"\n\n", "the file is empty (only whitespace)"),
        ("a.json", b"\xef\xbb\xbf", "the file is empty (only whitespace)"),
        ("a.json.gz", b"", "the file is empty (0 bytes)"),
        ("a.json.gz", gzip.compress(b"", mtime=0), "the file is empty (0 bytes once gunzipped)"),
        # (no time stamp in the gzip header: every pytest-xdist worker collects the same id)
        (
            "a.json.gz",
            gzip.compress(b"{}" * 100, mtime=0)[:15],
            "not a readable gzip file (truncated",
        ),
        ("a.json.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"\xff" * 20, "not a readable gzip"),
        ("a.json.gz", b"plain text, not gzip", "not a readable gzip file"),
        # garbage after a whole member: said as the standard library says it, not as a cut file
        (
            "a.json.gz",
            gzip.compress(b"{}", mtime=0) + b"garbage",
            "not a readable gzip file (truncated or damaged): Not a gzipped file",
        ),
    ],
)
def test_an_empty_or_unreadable_first_file_is_quarantined_whole(
    tmp_path: Path, seed_record, name: str, data: bytes, reason: str
):
    # a 0-byte first file used to stop every load with an IndexError (issue 11, item 5)
    (tmp_path / name).write_bytes(data)
    (tmp_path / "b.json").write_bytes(_page_bytes([seed_record]))
    logs = load(tmp_path)
    assert (logs.records_read, logs.loaded, logs.quarantined) == (2, 1, 1)
    q = logs.quarantine.row(0, named=True)
    assert (q["source_file"], q["position"], q["record_id"]) == (str(tmp_path / name), None, None)
    assert q["reason"].startswith(reason)
    with pytest.raises(InvalidRecordError, match=re.escape(f"{tmp_path / name}: {reason}")):
        load(tmp_path, strict=True)


def test_a_lone_empty_file_loads_nothing_and_the_store_stays_usable(tmp_path: Path, seed_record):
    from cxreports.store import summary, update

    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "a.json").write_bytes(b"")
    logs = load(pages)
    assert (logs.records_read, logs.loaded, logs.quarantined) == (1, 0, 1)
    # the same with --out: the store is built, the empty file is its one quarantined item
    (pages / "b.json").write_bytes(_page_bytes([seed_record]))
    update([pages], tmp_path / "store")
    figures, quarantine = summary(tmp_path / "store")
    assert (figures["records_read"], figures["loaded"], figures["quarantined"]) == (2, 1, 1)
    assert quarantine["reason"].to_list() == ["the file is empty (0 bytes)"]


@pytest.mark.parametrize("name", ["a.json", "a.ndjson", "a.jsonl"])
def test_text_that_is_not_utf8_is_named_as_such(tmp_path: Path, seed_record, name: str):
    record = {**seed_record, "queueName": "CAFE"}
    good = _page_bytes([record]) if name == "a.json" else _lines_bytes([record])
    (tmp_path / name).write_bytes(good.replace(b"CAFE", "Caf\u00e9".encode("latin-1")))
    logs = load(tmp_path)
    assert (logs.records_read, logs.loaded, logs.quarantined) == (1, 0, 1)
    reason = logs.quarantine["reason"].item()
    where = "" if name == "a.json" else "line 1: "
    assert re.fullmatch(
        where + r"not UTF-8 text: expected UTF-8, got byte 0xe9 at offset \d+; .*", reason
    )


@pytest.mark.parametrize("name", ["a.json", "a.ndjson", "a.json.gz", "a.ndjson.gz", "l.json"])
@pytest.mark.parametrize("with_bad_record", [False, True])
def test_a_utf8_bom_is_accepted_in_every_format(
    tmp_path: Path, seed_record, name: str, with_bad_record: bool
):
    # a bad record sends the file to the careful path, which must accept the BOM as well
    records = [seed_record, {**seed_record, "id": "bad", "handledTime": "x"}][: 1 + with_bad_record]
    if name.startswith("l."):
        text = json.dumps(records).encode()
    elif ".ndjson" in name:
        text = _lines_bytes(records)
    else:
        text = _page_bytes(records)
    data = b"\xef\xbb\xbf" + text
    (tmp_path / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    logs = load(tmp_path)
    assert logs.interactions["id"].to_list() == ["uuid-string"]
    assert logs.quarantined == with_bad_record
    if with_bad_record:
        assert "wrong type in handledTime" in logs.quarantine["reason"].item()


def _both_paths(tmp_path: Path, record: dict, name: str = "page.json") -> list[CxLogs]:
    """``record`` loaded on the fast path, and on the careful one (a bad neighbour sends the
    file there); the neighbour is the only difference."""
    out = []
    for careful in (False, True):
        folder = tmp_path / ("careful" if careful else "fast")
        folder.mkdir()
        records = [record, 42] if careful else [record]
        if name.endswith((".ndjson", ".jsonl")):
            data = _lines_bytes(records)
        else:
            data = _page_bytes(records)
        (folder / name).write_bytes(data)
        logs = load(folder)
        assert logs.quarantined == careful + (logs.records_read - careful - logs.loaded)
        out.append(logs)
    return out


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("caseId", 12.7, "wrong type in caseId: expected a whole number (64-bit), got 12.7"),
        ("caseId", 2**70, f"wrong type in caseId: expected a whole number (64-bit), got {2**70}"),
        ("caseId", 2**63, f"wrong type in caseId: expected a whole number (64-bit), got {2**63}"),
        ("caseId", -(2**63) - 1, "wrong type in caseId: expected a whole number (64-bit), got -9"),
        ("caseId", True, "wrong type in caseId: expected a whole number (64-bit), got true"),
        ("caseId", "twelve", "wrong type in caseId: expected a whole number (64-bit), got twelve"),
        ("caseId", [1], "wrong type in caseId: expected a whole number (64-bit), got [1]"),
        ("level", 1.5, "wrong type in wrapUpForm.categories[].level: expected a whole number"),
        ("level", 2**64, "wrong type in wrapUpForm.categories[].level: expected a whole number"),
    ],
)
@pytest.mark.parametrize("name", ["page.json", "lines.ndjson"])
def test_a_whole_number_field_rejects_fractions_and_overflow_on_both_paths(
    tmp_path: Path, seed_record, path: str, value, reason: str, name: str
):
    # caseId 12.7 used to load as 12 and 2**70 as null, without a word (issue 11)
    if path == "level":
        seed_record["wrapUpForm"]["categories"][1]["level"] = value
    else:
        seed_record[path] = value
    for logs in _both_paths(tmp_path, seed_record, name):
        assert logs.loaded == 0
        reasons = logs.quarantine.filter(pl.col("position") == 0)["reason"].to_list()
        assert len(reasons) == 1 and reason in reasons[0], reasons


@pytest.mark.parametrize("value", [12540, 12540.0, "12540", 1.254e4])
def test_a_whole_number_written_otherwise_loads_the_same_on_both_paths(
    tmp_path: Path, seed_record, value
):
    seed_record["caseId"] = value
    seed_record["wrapUpForm"]["categories"][1]["level"] = 2.0
    for logs in _both_paths(tmp_path, seed_record):
        assert logs.interactions["case_id"].to_list() == [12540]
        assert logs.wrap_up_categories["level"].to_list() == [1, 2]


@pytest.mark.parametrize(
    "path",
    [p for p in S.RAW_DURATIONS if not p.startswith("holdLogs")] + ["holdLogs.0.duration"],
)
@pytest.mark.parametrize("kind", ["negative", "implausible"])
def test_every_duration_source_is_checked(seed_record, write_page, path: str, kind: str):
    # room.handled_time -50 with handledTime null used to go into AHT (issue 11, item 7)
    if path.startswith("room."):
        seed_record[path.removeprefix("room.").join(["", ""])] = None
        top = {"handled_time": "handledTime", "holding_time": "totalHoldDuration"}
        seed_record[top.get(path.removeprefix("room."), "firstResponseTime")] = None
    name = "holdLogs[].duration" if path.startswith("holdLogs") else path
    limit = S.RAW_DURATIONS[name]
    value = -50 if kind == "negative" else limit + 1
    if path.startswith("holdLogs"):
        seed_record["holdLogs"][0]["duration"] = value
    else:
        _set(seed_record, path, value)
    logs = load(write_page([seed_record]))
    assert (logs.loaded, logs.quarantined) == (0, 1)
    expected = (
        f"record data[0]: negative {name}: expected seconds from 0, got -50.0"
        if kind == "negative"
        else f"record data[0]: implausible {name}: expected at most {limit:.0f} seconds"
    )
    assert logs.quarantine["reason"].item().startswith(expected)


def test_a_duration_at_its_limit_loads(seed_record, write_page):
    seed_record["room"]["handled_time"] = S.RAW_DURATIONS["room.handled_time"]
    seed_record["resolutionTime"] = S.RAW_DURATIONS["resolutionTime"]
    seed_record["handledTime"] = 0
    assert load(write_page([seed_record])).loaded == 1


def _float_fields(dtype: pl.DataType, path: str) -> list[str]:
    if isinstance(dtype, pl.Struct):
        return [x for f in dtype.fields for x in _float_fields(f.dtype, f"{path}.{f.name}")]
    if isinstance(dtype, pl.List):
        return _float_fields(dtype.inner, f"{path}[]")
    return [path.lstrip(".")] if dtype == pl.Float64 else []


def test_every_seconds_field_of_the_record_schema_has_a_duration_rule():
    # a new seconds field added to the schema must get a rule, or it would slip in unchecked
    floats = _float_fields(pl.Struct(S.RAW_RECORD), "")
    assert sorted(floats) == sorted(S.RAW_DURATIONS)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("startedDate", "9999-03-30 08:30:00+00"),
        ("startedDate", "0001-03-30T08:30:00Z"),
        ("startedDate", "1999-12-31T23:59:59Z"),
        ("closedAt", "2100-01-01T00:00:00Z"),
        ("updatedAt", "1970-01-01 00:00:00+00"),
        ("deletedAt", "9999-12-31T23:59:59.999Z"),
        ("holdLogs.started_at", "0001-01-01 00:00:00+00"),
    ],
)
def test_timestamps_outside_2000_to_2099_are_quarantined(seed_record, write_page, field, value):
    if field.startswith("holdLogs"):
        seed_record["holdLogs"][0]["started_at"] = value
    else:
        seed_record[field] = value
    logs = load(write_page([seed_record]))
    assert (logs.loaded, logs.quarantined) == (0, 1)
    assert logs.quarantine["reason"].item() == (
        f"record data[0]: timestamp out of range in {field}: expected a time from 2000 to "
        f"2099, got '{value}'"
    )


@pytest.mark.parametrize("value", ["2000-01-01T00:00:00Z", "2099-12-31 23:59:59.999+00"])
def test_timestamps_at_the_edges_of_the_window_load(seed_record, write_page, value):
    seed_record["startedDate"] = value
    assert load(write_page([seed_record])).loaded == 1


@pytest.mark.parametrize(
    ("text", "repeated", "last"),
    [
        ('"caseId": 12540', '"caseId": 7, "caseId": 8', '"caseId": 8'),
        ('"handledTime": 2720', '"handledTime": 100, "handledTime": 200', '"handledTime": 200'),
        ('"handledTime": 2720', '"handledTime": null, "handledTime": 200', '"handledTime": 200'),
        ('"handledTime": 2720', '"handledTime": 200, "handledTime": null', '"handledTime": null'),
        (
            '"queueName": "Tier 2 Technical Support"',
            '"queueName": "A", "queueName": "B"',
            '"queueName": "B"',
        ),
        (
            '"is_bot_room": false',
            '"is_bot_room": true, "is_bot_room": false',
            '"is_bot_room": false',
        ),
        ('"duration": 45', '"duration": 45, "duration": 99', '"duration": 99'),
        # the same key spelled with an escape
        ('"caseId": 12540', '"caseId": 7, "case\\u0049d": 8', '"caseId": 8'),
    ],
)
@pytest.mark.parametrize("name", ["page.json", "list.json", "lines.ndjson"])
def test_a_repeated_key_keeps_its_last_value_on_both_paths(
    tmp_path: Path, seed_record, text: str, repeated: str, last: str, name: str
):
    """As in every JSON reader; polars' one-call reader alone keeps the first (docs/data.md)."""
    encode = {
        "page.json": _page_bytes,
        "list.json": lambda records: json.dumps(records, indent=2).encode(),
        "lines.ndjson": _lines_bytes,
    }[name]
    loaded = {}
    for folder, records, replacement in (
        ("repeated", [seed_record, seed_record | {"id": "other"}], repeated),
        ("last", [seed_record, seed_record | {"id": "other"}], last),
        # a bad neighbour sends the whole file down the record-by-record path
        ("careful", [seed_record, seed_record | {"id": "other"}, 42], repeated),
    ):
        (tmp_path / folder).mkdir()
        data = encode(records)
        assert data.count(text.encode()) == 2, data[:200]
        (tmp_path / folder / name).write_bytes(data.replace(text.encode(), replacement.encode()))
        loaded[folder] = load(tmp_path / folder)
    assert loaded["repeated"].loaded == loaded["last"].loaded == loaded["careful"].loaded == 2
    assert loaded["careful"].quarantined == 1
    for table in ("interactions", *S.CHILD_TABLES):
        want = getattr(loaded["last"], table).drop("source_file", strict=False)
        for way in ("repeated", "careful"):
            got = getattr(loaded[way], table).drop("source_file", strict=False)
            assert got.equals(want), (way, table)


@pytest.mark.parametrize("name", ["page.json", "list.json", "lines.ndjson"])
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("queueName", 1.5),  # a number for a text: polars' reader keeps its text
        ("contactLabel", [1.5]),
        ("handledTime", True),  # (docs/data.md: 1)
        ("queueName", "Tier \ud800 2"),  # a lone surrogate, which orjson refuses
    ],
)
def test_a_repeated_key_elsewhere_in_a_file_changes_nothing_else(
    tmp_path: Path, seed_record, name: str, field: str, value
):
    """A repeat sends the file to be written again with each key once and read by the same
    reader: a neighbour's value the one-call reader takes stays taken, not quarantined."""
    odd = seed_record | {field: value}
    encode = {
        "page.json": _page_bytes,
        "list.json": lambda records: json.dumps(records).encode(),
        "lines.ndjson": _lines_bytes,
    }[name]
    loaded = {}
    for folder, other in (("once", {"extra": 2}), ("repeated", None)):
        (tmp_path / folder).mkdir()
        data = encode([odd, seed_record | {"id": "other", "extra": 2}])
        if other is None:
            data = data.replace(b'"extra": 2', b'"extra": 1, "extra": 2')
        (tmp_path / folder / name).write_bytes(data)
        loaded[folder] = load(tmp_path / folder)
    once, repeated = loaded["once"], loaded["repeated"]
    assert (repeated.loaded, repeated.quarantined) == (once.loaded, once.quarantined)
    for table in ("interactions", *S.CHILD_TABLES):
        want = getattr(once, table).drop("source_file", strict=False)
        assert getattr(repeated, table).drop("source_file", strict=False).equals(want), table


def test_a_json_line_after_a_blank_line_is_named_by_its_line(tmp_path: Path, seed_record):
    # the reader skips blank lines: a bad record on line 4 was "line 3" unless a neighbour was
    # bad too (the careful path numbers lines)
    bad = seed_record | {"id": "bad", "startedDate": "not a time"}
    lines = _lines_bytes([seed_record, bad]).split(b"\n")
    (tmp_path / "a.ndjson").write_bytes(lines[0] + b"\n\n \n" + lines[1] + b"\n")
    logs = load(tmp_path)
    assert logs.interactions["source_position"].to_list() == [0]
    [reason] = logs.quarantine["reason"].to_list()
    assert logs.quarantine["position"].to_list() == [3] and reason.startswith("line 4:")


def test_files_the_careful_path_reads_whole(tmp_path: Path, seed_record):
    """Valid JSON the record-by-record path had refused or split: a JSON line with a lone CR
    as a space in it, a 39-digit number in a field no table reads, a field nested 1,010
    deep (polars' reader and orjson read it; the standard library's parser stops near 1,000
    levels: a file whose repeated key the scan cannot vouch for, written with an escape, is
    quarantined whole, saying why)."""
    deep = ("[" * 1010 + '{"x": 1}' + "]" * 1010).encode()
    files = {
        "deep.json": _page_bytes(
            [seed_record | {"deep": "DEEP"}, seed_record | {"id": "b"}]
        ).replace(b'"DEEP"', deep),
        "cr.ndjson": _lines_bytes([seed_record, seed_record | {"id": "b"}]).replace(
            b'"caseId":', b'"caseId":\r', 1
        ),
        "big.json": _page_bytes([seed_record | {"big": 10**38}, seed_record | {"id": "b"}]),
    }
    for name, data in files.items():
        for repeat in (False, True):
            folder = tmp_path / f"{name}-{repeat}"
            folder.mkdir()
            if repeat:  # the second record repeats a key
                data = data.replace(b'"id": "b"', b'"id": "a", "id": "b"')
            (folder / name).write_bytes(data)
            logs = load(folder)
            assert (logs.loaded, logs.quarantined) == (2, 0), (name, repeat, logs.quarantine)
            assert logs.records_read == 2
    escaped = tmp_path / "escaped"
    escaped.mkdir()
    data = files["deep.json"].replace(b'"id": "b"', b'"id": "a", "\\u0069d": "b"')
    (escaped / "deep.json").write_bytes(data)
    logs = load(escaped)
    [reason] = logs.quarantine["reason"].to_list()
    assert reason.startswith("nested too deeply to read record by record")
    assert (logs.loaded, logs.quarantine["position"].to_list()) == (0, [None])


def test_a_folder_source_lists_its_pages_at_any_depth_in_path_order(tmp_path: Path) -> None:
    from cxreports.load import resolve_sources

    pages = tmp_path / "pages"
    for name in ("b/x.json", "a-b.json", "a/y.ndjson", "a/.hidden.json", "A.json", "z.json.gz"):
        (pages / name).parent.mkdir(parents=True, exist_ok=True)
        (pages / name).write_text("[]")
    (pages / "notes.txt").write_text("not a page")
    (pages / "folder.json").mkdir()  # a folder with a page's name is not a page
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.json").write_text("[]")
    (pages / "linked").symlink_to(outside)  # a link to a folder is not followed
    (pages / "file-link.json").symlink_to(outside / "o.json")  # a link to a page is read
    (pages / "broken.json").symlink_to(tmp_path / "nowhere.json")

    found = resolve_sources([f"{pages}/"])

    names = [p.relative_to(pages).as_posix() for p in found]
    # ordered by path parts, so a/... comes before a-b.json (not by the text, where "-" < "/")
    assert names == [
        "A.json",
        "a/.hidden.json",
        "a/y.ndjson",
        "a-b.json",
        "b/x.json",
        "file-link.json",
        "z.json.gz",
    ]
    assert found == sorted(found)


@pytest.mark.parametrize(
    "envelope",
    [
        # values polars cannot read where the loader does not look: a number beyond 64 bits
        '{"requestId": 1111111111111111111111111111111111111111, "cxLogs": {"data": RECORDS}}',
        '{"cxLogs": {"total": -99999999999999999999999, "data": RECORDS, "page": 1}}',
    ],
)
def test_a_page_is_read_by_its_records_whatever_the_rest_of_it_holds(
    seed_record, tmp_path, envelope
):
    """The records of a page are read as those of a clean page, with polars' one-call reader,
    however unreadable to polars the page's other fields are (they are ignored); before, such
    a page was read record by record, which rejects what the one-call reader converts."""
    seed_record["agentId"] = True  # the one-call reader makes text of it; one by one rejects it
    records = json.dumps([seed_record, {**seed_record, "id": "second"}])
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps({"cxLogs": {"data": json.loads(records), "total": 2}}))
    odd = tmp_path / "odd.json"
    odd.write_text(envelope.replace("RECORDS", records))
    expected, got = load(clean), load(odd)
    assert (got.loaded, got.quarantined) == (expected.loaded, expected.quarantined) == (2, 0)
    assert got.interactions["agent_id"].to_list() == ["true", "true"]
    assert got.interactions.drop("source_file").equals(expected.interactions.drop("source_file"))
    for name in S.CHILD_TABLES:
        assert getattr(got, name).equals(getattr(expected, name)), name


def test_a_gzip_page_whose_header_checksum_is_wrong_is_read_as_the_standard_library_reads_it(
    seed_record, tmp_path
):
    """A gzip header may carry a checksum of itself (FHCRC); the standard library reads past a
    wrong one (the content's own checksum, at the end, is checked), and so does the loader."""
    packed = gzip.compress(_page_bytes([seed_record]), mtime=0)
    flagged = packed[:3] + bytes([packed[3] | 0x02]) + packed[4:10] + b"\x00\x00" + packed[10:]
    (tmp_path / "page.json.gz").write_bytes(flagged)
    logs = load(tmp_path)
    assert (logs.loaded, logs.quarantined) == (1, 0)
