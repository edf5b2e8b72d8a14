"""The ``cxreports`` command line, run in-process through :func:`cxreports.cli.main`."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import polars as pl
import pytest

import cxreports
from cxreports import schema as S
from cxreports.cli import main
from cxreports.store import scan
from cxreports.store import summary as store_summary

#: A small sample: the generator's default end (Monday 2026-03-30) and three weeks before it,
#: i.e. the Singapore weeks 2026-W11, W12 and W13.
SAMPLE_ARGS = ("--records", "300", "--weeks", "3")
WEEK = "2026-W12"
TZ = "Asia/Singapore"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pages written by ``cxreports sample`` once for the module."""
    out = tmp_path_factory.mktemp("cli-sample")
    assert main(["sample", "--out", str(out), *SAMPLE_ARGS]) == 0
    return out


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI and return (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def summary_number(text: str, label: str) -> int:
    """The number printed after ``label`` in the load summary."""
    match = re.search(rf"^\s*{re.escape(label)}\s+([\d,]+)", text, re.MULTILINE)
    assert match, f"{label!r} not in:\n{text}"
    return int(match[1].replace(",", ""))


def test_sample_writes_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "pages"
    code, stdout, stderr = run(capsys, "sample", "--out", str(out), *SAMPLE_ARGS)
    assert code == 0
    assert stderr == ""
    pages = sorted(out.glob("cx_logs_page_*.json"))
    assert len(pages) == 3  # 300 records at the default 100 per page
    assert f"wrote {len(pages)} pages (300 interactions) to {out}" in stdout
    first = json.loads(pages[0].read_text())
    assert isinstance(first["cxLogs"]["data"], list) and first["cxLogs"]["data"]


def test_sample_is_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(capsys, "sample", "--out", str(a), *SAMPLE_ARGS)[0] == 0
    assert run(capsys, "sample", "--out", str(b), *SAMPLE_ARGS)[0] == 0
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def test_load_prints_summary_and_writes_parquet(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "tables"
    code, stdout, stderr = run(capsys, "load", str(sample), "--out", str(out))
    assert code == 0
    assert stderr == ""

    logs = cxreports.load(sample)
    assert summary_number(stdout, "files read") == len(logs.files) == 3
    assert summary_number(stdout, "records read") == logs.records_read
    assert summary_number(stdout, "loaded (unique)") == logs.loaded
    assert summary_number(stdout, "older duplicates") == logs.superseded
    assert summary_number(stdout, "quarantined") == logs.quarantined
    assert logs.records_read == logs.loaded + logs.superseded + logs.quarantined
    assert logs.loaded > 0
    assert f"store {out}: parsed 3 new or changed file(s), reused 0" in stdout

    assert not list(out.rglob(".*.tmp*"))  # no temporary files left behind
    for name, frame in logs.tables().items():
        table = scan(out, name).collect() if name != "quarantine" else store_summary(out)[1]
        assert table.height == frame.height, name
        assert table.select(list(S.TABLES[name])).schema == S.TABLES[name], name
    # a second load reuses every file
    code, stdout, _ = run(capsys, "load", str(sample), "--out", str(out))
    assert f"store {out}: parsed 0 new or changed file(s), reused 3" in stdout


def test_load_without_out_writes_nothing(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    code, stdout, _ = run(capsys, "load", str(sample))
    assert code == 0
    assert "records read" in stdout
    assert "Parquet" not in stdout


def test_metrics_agents_csv(sample: Path, capsys: pytest.CaptureFixture[str]):
    code, stdout, stderr = run(
        capsys, "metrics", "agents", str(sample), "--week", WEEK, "--tz", TZ, "--format", "csv"
    )
    assert code == 0
    assert stderr == ""
    agents = pl.read_csv(io.StringIO(stdout))
    assert agents.columns[:2] == ["agent_id", "agent_name"]
    assert agents.height > 0
    assert agents["agent_id"].is_unique().all()

    code, stdout, _ = run(
        capsys, "metrics", "summary", str(sample), "--week", WEEK, "--tz", TZ, "--format", "csv"
    )
    assert code == 0
    summary = pl.read_csv(io.StringIO(stdout))
    assert summary.height == 1
    handled = summary["handled"].item()
    assert handled > 0
    assert agents["handled"].sum() == handled


def test_metrics_match_the_library(sample: Path, capsys: pytest.CaptureFixture[str]):
    from cxreports.metrics import weekly

    expected = weekly(cxreports.load(sample), WEEK, TZ).summary
    code, stdout, _ = run(
        capsys, "metrics", "summary", str(sample), "--week", WEEK, "--tz", TZ, "--format", "csv"
    )
    assert code == 0
    got = pl.read_csv(io.StringIO(stdout))
    assert got.columns == expected.columns
    assert got["handled"].item() == expected["handled"].item()
    assert got["aht_s"].item() == pytest.approx(expected["aht_s"].item())


def test_metrics_json(sample: Path, capsys: pytest.CaptureFixture[str]):
    code, stdout, stderr = run(
        capsys, "metrics", "agents", str(sample), "--week", WEEK, "--tz", TZ, "--format", "json"
    )
    assert code == 0
    assert stderr == ""
    rows = json.loads(stdout)
    assert isinstance(rows, list) and rows
    assert list(rows[0])[:2] == ["agent_id", "agent_name"]
    assert all(isinstance(r["handled"], int) for r in rows)

    code, stdout, _ = run(
        capsys, "metrics", "summary", str(sample), "--week", WEEK, "--tz", TZ, "--format", "json"
    )
    assert code == 0
    (summary,) = json.loads(stdout)
    assert sum(r["handled"] for r in rows) == summary["handled"]


@pytest.mark.parametrize("week", ["2026-W13", "2026-W11"])
def test_metrics_table_format(sample: Path, capsys: pytest.CaptureFixture[str], week: str):
    code, stdout, stderr = run(capsys, "metrics", "daily", str(sample), "--week", week, "--tz", TZ)
    assert code == 0
    assert stderr == ""
    assert "handled" in stdout


def one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("week", ["2026-W99", "2026-13", "last week"])
def test_invalid_week_exits_2(sample: Path, capsys: pytest.CaptureFixture[str], week: str):
    code, stdout, stderr = run(capsys, "metrics", "agents", str(sample), "--week", week)
    assert code == 2
    assert stdout == ""
    line = one_line_error(stderr)
    assert line.startswith("cxreports metrics: error:")
    assert week in line


def test_unknown_time_zone_exits_2(sample: Path, capsys: pytest.CaptureFixture[str]):
    code, stdout, stderr = run(
        capsys, "metrics", "agents", str(sample), "--week", WEEK, "--tz", "Mars/Olympus_Mons"
    )
    assert code == 2
    assert stdout == ""
    line = one_line_error(stderr)
    assert line.startswith("cxreports metrics: error:")
    assert "Mars/Olympus_Mons" in line


@pytest.mark.parametrize(
    "argv",
    [["load"], ["metrics", "agents"], ["metrics", "summary", "--week", WEEK, "--tz", TZ]],
)
def test_missing_source_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv):
    missing = tmp_path / "no-such-folder"
    command, *rest = argv
    args = [command, *rest[:1], str(missing), *rest[1:]]
    code, stdout, stderr = run(capsys, *args)
    assert code == 3
    assert stdout == ""
    line = one_line_error(stderr)
    assert line.startswith(f"cxreports {command}: error:")
    assert str(missing) in line
