"""The ``cxreports`` command line, run in-process through :func:`cxreports.cli.main`."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import cxreports
import cxreports.config
from cxreports import schema as S
from cxreports.cli import main
from cxreports.period import Week
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
    # as the reports list them: ranked agents by rank, then the rest, most handled first
    ranked = agents.filter(pl.col("ranked"))
    assert ranked["rank"].to_list() == sorted(ranked["rank"].to_list())
    assert agents["ranked"].to_list() == sorted(agents["ranked"].to_list(), reverse=True)
    rest = agents.filter(~pl.col("ranked"))["handled"].to_list()
    assert rest == sorted(rest, reverse=True)

    code, stdout, _ = run(
        capsys, "metrics", "summary", str(sample), "--week", WEEK, "--tz", TZ, "--format", "csv"
    )
    assert code == 0
    summary = pl.read_csv(io.StringIO(stdout))
    assert summary.height == 1
    handled = summary["handled"].item()
    assert handled > 0
    assert agents["handled"].sum() == handled


def test_text_exports_defuse_formulas_and_control_characters():
    from cxreports.export import frame_to_text

    names = ['=HYPERLINK("http://x","y")', "@SUM(1)", "+1", "-1", "Ann", "Esc\x1b[31mRed\x07"]
    frame = pl.DataFrame({"agent_name": names, "handled": [1, 2, 3, 4, 5, -6]})
    back = pl.read_csv(io.StringIO(frame_to_text(frame, "csv")))
    # a spreadsheet takes a cell that begins with = + - @ for a formula, quoted or not
    shown = ["'" + n for n in names[:4]] + ["Ann", "Esc\ufffd[31mRed\ufffd"]
    assert back["agent_name"].to_list() == shown
    assert back["handled"].to_list() == [1, 2, 3, 4, 5, -6]  # numbers as they were
    table = frame_to_text(frame, "table")
    assert "\x1b" not in table and "\x07" not in table and names[0] in table
    assert json.loads(frame_to_text(frame, "json"))[5]["agent_name"] == names[5]


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


@pytest.mark.parametrize(
    "argv",
    [
        ["metrics", "agents", "SAMPLE", "--week", ""],
        ["report", "all", "SAMPLE", "--week", " ", "--out", "OUT"],
        ["weekly", "--config", "CONFIG", "--week", ""],
        ["load", ""],
        ["load", "SAMPLE", "--out", ""],
        ["metrics", "agents", ""],
        ["report", "all", "", "--out", "OUT"],
        ["report", "all", "SAMPLE", "--out", ""],
        ["metrics", "agents", "SAMPLE", "--queues", ""],
        ["report", "all", "SAMPLE", "--channels", ",", "--out", "OUT"],
        ["weekly", "--config", ""],
        ["weekly", "--config", "CONFIG", "--source", ""],
        ["send", "OUT", "--to", ""],
    ],
)
def test_an_empty_value_is_an_error_not_the_default(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch, argv
):
    # `--week ''` used to mean the default week and `load ''` the current folder
    monkeypatch.chdir(sample)
    out, config = tmp_path / "out", tmp_path / "c.toml"
    config.write_text(cxreports.config.EXAMPLE)
    names = {"SAMPLE": str(sample), "OUT": str(out), "CONFIG": str(config)}
    with pytest.raises(SystemExit) as info:
        main([names.get(a, a) for a in argv])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines()[-1].startswith(f"cxreports {argv[0]}: error: argument")
    assert "Traceback" not in captured.err
    assert not out.exists()


def test_report_without_a_format_lists_the_formats(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "out"
    code, stdout, stderr = run(
        capsys, "report", "all", str(sample), "--week", WEEK, "--out", str(out), "--format", ""
    )
    assert (code, stdout) == (2, "")
    assert "no output format given: choose one or more of html, pdf" in one_line_error(stderr)
    assert not out.exists()


@pytest.mark.parametrize("command", ["metrics", "report"])
@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--min-volume", "0", "min_volume must be a whole number from 1"),
        ("--frt-target", "-1", "frt_target_s must be a number of seconds above 0"),
        ("--frt-target", "nan", "frt_target_s must be"),
        ("--csat-score-field", "room..x", "csat_score_field must be a dotted path"),
        ("--csat-score-field", "startedDate", "names a field cxreports already reads"),
    ],
)
def test_a_bad_threshold_exits_2_before_any_notebook_runs(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command, flag, value, message
):
    # these used to fail inside the notebook, exit 6
    out = tmp_path / "out"
    table = ["all"] if command == "report" else ["agents"]
    argv = [command, *table, str(sample), "--week", WEEK, f"{flag}={value}"]
    code, stdout, stderr = run(capsys, *argv, *(["--out", str(out)] if command == "report" else []))
    assert (code, stdout) == (2, "")
    assert message in one_line_error(stderr)
    assert not out.exists()


@pytest.mark.parametrize("kind", ["file", "under_file", "read_only", "link_loop"])
def test_report_into_an_out_that_cannot_be_written_is_one_line(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], read_only_dir, kind
):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    out = {
        "file": tmp_path / "a-file",
        "under_file": tmp_path / "a-file" / "reports",
        "read_only": read_only_dir,
        "link_loop": tmp_path / "loop",
    }[kind]
    code, stdout, stderr = run(
        capsys, "report", "all", str(sample), "--week", WEEK, "--out", str(out)
    )
    assert (code, stdout) == (11, "")
    line = one_line_error(stderr)
    assert line.startswith("cxreports report: error:") and str(out) in line
    assert "choose another output folder" in line or "choose a folder you can write" in line


def test_load_on_a_full_disk_is_one_line_and_leaves_no_temporary_file(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], full_disk
):
    out = tmp_path / "store"
    full_disk("*.parquet")
    code, _, stderr = run(capsys, "load", str(sample), "--out", str(out))
    assert code == 11
    line = one_line_error(stderr)
    assert line.startswith("cxreports load: error:") and "no space left on the device" in line
    assert not [p for p in out.rglob(".*") if p.name != ".cxreports-store.lock"]


@pytest.mark.parametrize("kind", ["folder", "binary"])
def test_weekly_with_a_config_that_is_not_a_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind
):
    config = tmp_path / "config"
    if kind == "folder":
        config.mkdir()
    else:
        config.write_bytes(b"\x89PNG\r\n\x1a\n\xff")
    code, _, stderr = run(capsys, "weekly", "--config", str(config))
    assert code == 2
    line = one_line_error(stderr)
    assert line.startswith(f"cxreports weekly: error: {config}:")


def test_weekly_checks_the_whole_config_before_any_work_and_repeats_no_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out, raw = tmp_path / "out", tmp_path / "raw"
    config = tmp_path / "c.toml"
    config.write_text(
        f"""
[source]
base_url = "http://127.0.0.1:9/never-called"
raw = "{raw}"
[report]
out = "{out}"
[smtp]
host = "localhost"
port = "hunter2"
from = "reports@example.com"
[[groups]]
name = "team"
to = ["all@example.com"]
[[groups]]
name = "team"
to = ["billing@example.com"]
queues = ["Billing"]
"""
    )
    code, stdout, stderr = run(capsys, "weekly", "--config", str(config), "--week", "2026-W13")
    assert (code, stdout) == (2, "")
    line = one_line_error(stderr)
    assert "[smtp] port must be a whole number" in line and "hunter2" not in line
    # with the port fixed, the shared group name is what stops it, still before any work
    config.write_text(config.read_text().replace('"hunter2"', "25"))
    code, _, stderr = run(capsys, "weekly", "--config", str(config), "--week", "2026-W13")
    assert code == 2
    assert "#2 (team): the name is taken by [[groups]] #1" in stderr.splitlines()[-1]
    assert not out.exists() and not raw.exists()


@pytest.fixture(scope="module")
def sample_store(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's sample pages loaded into a store."""
    out = tmp_path_factory.mktemp("cli-store") / "store"
    assert main(["load", str(sample), "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("command", ["metrics", "report"])
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--week", "9999-W52"], "week '9999-W52' is out of range"),
        (["--week", "0001-W01"], "week '0001-W01' is out of range"),
        (["--week", "0001-W03"], "week '0001-W03' is out of range"),
        (["--as-of", "²"], "--as-of expects a store version (a whole number) or a timestamp"),
        (["--tz", "localtime"], "unknown time zone 'localtime'"),
        (["--tz", "posixrules"], "unknown time zone 'posixrules'"),
        (["--tz", "Factory"], "unknown time zone 'Factory'"),
        (["--tz", "right/UTC"], "unknown time zone 'right/UTC'"),
        (
            ["--week", "2999-W01"],
            "week 2999-W01 has not started yet: it starts on 2998-12-31 in UTC",
        ),
    ],
)
def test_a_bad_week_as_of_or_zone_is_one_line_exit_2_before_any_work(
    sample_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command, flags, message
):
    # tracebacks before (OverflowError, ValueError from int(), polars refusing a zone Python
    # reads), or an empty "Handled: 0" report of a week still to come
    out = tmp_path / "out"
    table = ["all"] if command == "report" else ["summary"]
    argv = [
        command,
        *table,
        str(sample_store),
        *(["--week", WEEK] if "--week" not in flags else []),
    ]
    code, stdout, stderr = run(
        capsys, *argv, *flags, *(["--out", str(out)] * (command == "report"))
    )
    assert (code, stdout) == (2, "")
    line = one_line_error(stderr)
    assert line.startswith(f"cxreports {command}: error: ") and message in line
    assert not out.exists()


def test_the_current_week_not_yet_complete_is_allowed(
    sample_store: Path, capsys: pytest.CaptureFixture[str]
):
    week = Week.containing(datetime.now(UTC).date()).label
    code, stdout, _ = run(capsys, "metrics", "summary", str(sample_store), "--week", week)
    assert code == 0 and "handled" in stdout


def test_weeks_that_reach_past_now_are_refused(
    sample_store: Path, capsys: pytest.CaptureFixture[str]
):
    argv = ["metrics", "summary", str(sample_store), "--weeks", "2026-W12..2999-W01"]
    code, stdout, stderr = run(capsys, *argv)
    assert (code, stdout) == (2, "")
    assert "week 2999-W01 has not started yet" in one_line_error(stderr)


def test_an_empty_as_of_is_named_as_such(sample_store: Path, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as info:
        main(["metrics", "summary", str(sample_store), "--as-of", ""])
    assert info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("cxreports metrics: error: argument --as-of: expected a store version")
    assert "path" not in last


def _weekly_config(tmp_path: Path, source: Path, user: str = "") -> Path:
    config = tmp_path / "c.toml"
    config.write_text(
        f"""
[source]
path = "{source}"
[report]
out = "{tmp_path / "out"}"
[smtp]
host = "localhost"
port = 9
{user}
from = "reports@example.com"
[[groups]]
name = "team"
to = ["all@example.com"]
"""
    )
    return config


@pytest.mark.parametrize("week", ["2999-W01", "2027-W05"])
def test_weekly_refuses_a_week_that_has_not_started_before_any_work(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], week
):
    if Week.parse(week).start_utc <= datetime.now(UTC):
        pytest.skip(f"{week} has started")
    config = _weekly_config(tmp_path, sample)
    code, stdout, stderr = run(capsys, "weekly", "--config", str(config), "--week", week)
    assert (code, stdout) == (2, "")
    assert f"week {week} has not started yet" in stderr.strip().splitlines()[-1]
    assert not (tmp_path / "out").exists()


def test_weekly_without_the_smtp_password_stops_before_any_work(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
):
    # it used to render every group and only then fail, at the send step
    monkeypatch.delenv("CXREPORTS_SMTP_PASSWORD", raising=False)
    config = _weekly_config(tmp_path, sample, 'user = "reports@example.com"')
    code, stdout, stderr = run(capsys, "weekly", "--config", str(config), "--week", WEEK)
    assert (code, stdout) == (9, "")
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("cxreports weekly: error: run ")
    assert (
        "SMTP user 'reports@example.com' is set but the environment variable "
        "CXREPORTS_SMTP_PASSWORD holding the password is not" in last
    )
    assert "Traceback" not in stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--smtp-user", "", "argument --smtp-user: expected text on one line, got an empty"),
        ("--smtp-host", " ", "argument --smtp-host: expected text on one line"),
        ("--from", "reports", "argument --from: expected an email address"),
        ("--operator", "", "argument --operator: expected text on one line"),
        # these three were blamed on the config ("c.toml: [smtp] port must be", "[[groups]]
        # #1 (recipients): to, address 1") or, for an empty --to, told to leave it out "for all"
        ("--smtp-port", "0", "argument --smtp-port: expected a port number from 1 to 65535"),
        ("--to", "not-an-address", "argument --to: address 1: expected an email address"),
        ("--to", "a@example.com,x", "argument --to: address 2: expected an email address"),
        ("--to", "", "got none; leave --to out for the config's groups"),
    ],
)
def test_a_bad_smtp_flag_is_named_not_the_config_file(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag, value, message
):
    config = _weekly_config(tmp_path, sample)
    with pytest.raises(SystemExit) as info:
        main(["weekly", "--config", str(config), f"{flag}={value}"])
    assert info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("cxreports weekly: error: ") and message in last
    assert str(config) not in last


def test_a_bad_tz_flag_of_weekly_is_named_not_the_config_file(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    config = _weekly_config(tmp_path, sample)
    for tz in ("localtime", ""):
        code, _, stderr = run(capsys, "weekly", "--config", str(config), "--tz", tz)
        assert code == 2
        line = one_line_error(stderr)
        assert f"--tz: unknown time zone {tz!r}" in line and str(config) not in line


def test_the_help_names_the_store(capsys: pytest.CaptureFixture[str]):
    for argv in (["--help"], ["metrics", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        text = " ".join(capsys.readouterr().out.split())
        assert "Parquet" not in text
        assert ("Delta Lake store" if argv == ["--help"] else "a store (cxreports load") in text


@pytest.mark.parametrize(
    "argv",
    [
        ["config"],
        ["--help"],
        ["metrics", "daily", "SAMPLE", "--week", WEEK, "--tz", TZ],
        ["notebooks", "--out", "OUT", "--source", "SAMPLE", "--week", WEEK],
    ],
)
def test_a_reader_that_goes_away_ends_the_command_quietly(sample: Path, tmp_path: Path, argv):
    # `cxreports notebooks ... | head -3` ended with a BrokenPipeError traceback, exit 1
    names = {"SAMPLE": str(sample), "OUT": str(tmp_path / "out")}
    env = {**os.environ, "PYTHONPATH": str(Path(cxreports.__file__).parent.parent)}
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first line
    try:
        done = subprocess.run(
            [sys.executable, "-m", "cxreports", *[names.get(a, a) for a in argv]],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=300,
        )
    finally:
        os.close(write)
    assert done.returncode in (0, 141)
    assert done.stderr == ""
