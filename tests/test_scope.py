"""Queue and channel filters checked against the data: the library, the CLI and the notes."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cxreports import digest, load, tables, weekly
from cxreports.cli import main
from cxreports.exceptions import ParameterError
from cxreports.report import prepare
from cxreports.sample import CHANNELS, QUEUES
from cxreports.scope import LISTED, Known, describe, known, resolve

WEEK, TZ = "2026-W12", "Asia/Singapore"
KNOWN = Known(queues=("Billing", "Returns & Refunds", "billing dept"), channels=("email", "voice"))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scope-sample")
    assert main(["sample", "--out", str(out), "--records", "300", "--weeks", "3"]) == 0
    return out


@pytest.fixture(scope="module")
def sample_store(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scope-store") / "store"
    assert main(["load", str(sample), "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize(
    ("queues", "channels", "expected"),
    [
        ([], [], ([], [])),
        (["Billing"], [], (["Billing"], [])),
        (["billing"], [], (["Billing"], [])),
        (["BILLING", "Billing"], [], (["Billing"], [])),
        (["returns & refunds"], ["VOICE", "Email"], (["Returns & Refunds"], ["voice", "email"])),
        (["Billing Dept"], ["voice"], (["billing dept"], ["voice"])),
    ],
)
def test_a_known_value_is_taken_as_the_data_spells_it(queues, channels, expected):
    assert resolve(queues, channels, KNOWN) == expected


def test_an_exact_match_wins_over_values_that_differ_in_case():
    both = Known(queues=("Billing", "billing"), channels=())
    assert resolve(["billing"], [], both) == (["billing"], [])
    assert resolve(["BILLING"], [], both) == (["Billing", "billing"], [])


def test_every_unknown_value_is_named_with_the_known_ones_in_one_line():
    with pytest.raises(ParameterError) as caught:
        resolve(["Biling", "Billing"], ["phone"], KNOWN, where="group x: ")
    message = str(caught.value)
    assert "\n" not in message
    assert message == (
        "group x: unknown queue 'Biling': the source has Billing, Returns & Refunds, "
        "billing dept; unknown channel 'phone': the source has email, voice"
    )


def test_a_long_list_of_known_values_is_cut_short():
    many = Known(queues=tuple(f"Q{i:03d}" for i in range(LISTED + 12)), channels=())
    with pytest.raises(ParameterError, match=r"Q029 and 12 more$"):
        resolve(["nope"], [], many)
    with pytest.raises(ParameterError, match="the source names no channel at all"):
        resolve([], ["voice"], many)


def test_known_values_of_files_and_of_a_store_agree(sample: Path, sample_store: Path):
    from_files, from_store = known([sample]), known([sample_store])
    assert from_files == from_store
    assert set(from_files.queues) == set(QUEUES)
    assert set(from_files.channels) == set(CHANNELS)


@pytest.mark.parametrize("source", ["files", "store"])
def test_prepare_normalises_case_and_refuses_a_misspelt_queue(source, sample, sample_store):
    path = sample if source == "files" else sample_store
    _, exact = prepare(path, WEEK, TZ, queues=["Billing"], channels=["voice"])
    _, lower = prepare(path, WEEK, TZ, queues="billing", channels="VOICE")
    assert lower.params["queues"] == ["Billing"] and lower.params["channels"] == ["voice"]
    assert lower.summary.equals(exact.summary) and exact.handled > 0
    with pytest.raises(ParameterError, match=r"unknown queue 'Biling': the source has Billing, "):
        prepare(path, WEEK, TZ, queues=["Biling"])


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize("source", ["files", "store"])
def test_cli_metrics_and_report_refuse_a_misspelt_filter_before_any_kernel(
    source, sample, sample_store, tmp_path, capsys
):
    path = str(sample if source == "files" else sample_store)
    capsys.readouterr()
    argv = ["metrics", "queues", path, "--week", WEEK, "--tz", TZ, "--format", "csv"]
    assert main([*argv, "--queues", "billing"]) == 0
    printed = pl.read_csv(capsys.readouterr().out.encode())
    assert printed["queue_name"].to_list() == ["Billing"] and printed["handled"][0] > 0
    out = tmp_path / "out"
    code = main(
        ["report", "all", path, "--week", WEEK, "--tz", TZ, "--channels", "fax", "--out", str(out)]
    )
    assert code == 2
    error = _one_line(capsys.readouterr().err)
    assert "unknown channel 'fax': the source has " + ", ".join(sorted(CHANNELS)) in error
    assert not out.exists()


def test_cli_metrics_with_a_case_only_difference_prints_the_same_table(sample, capsys):
    def table(queue: str) -> str:
        capsys.readouterr()
        argv = ["metrics", "queues", str(sample), "--week", WEEK, "--tz", TZ, "--format", "csv"]
        assert main([*argv, "--queues", queue]) == 0
        return capsys.readouterr().out

    exact = table("Returns & Refunds")
    assert table("RETURNS & refunds") == exact
    assert exact.splitlines()[1].startswith("Returns & Refunds,")


def test_the_no_interactions_note_names_the_active_filters(sample):
    logs = load(sample)
    # a queue of the data with nothing in the data's first (part of a) week
    metrics = weekly(logs, "2026-W10", "UTC", queues=["Billing"], channels=["livechat", "email"])
    assert metrics.handled == 0
    note = tables.week_notes(metrics)
    assert "No interactions were handled by agents in this week for queue Billing; " in note
    assert "channels livechat, email" in note
    body = digest.build(metrics)
    assert "for queue Billing; channels livechat, email." in body.text
    # a week long after the data ends says so, not that nothing was handled in it
    after = tables.week_notes(weekly(logs, "2026-W30", TZ, queues=["Billing"]))
    assert "The data ends on" in after and "No interactions were handled" not in after


def test_describe_says_nothing_without_filters():
    assert describe([], []) == ""
    assert describe(["A", "B"], []) == "queues A, B"


@pytest.mark.slow
def test_a_notebook_run_directly_with_a_misspelt_queue_stops_at_its_first_cell(sample, tmp_path):
    # papermill straight on the notebook (Airflow's PapermillOperator), not through cxreports
    from cxreports.exceptions import ReportError
    from cxreports.render import execute_notebook
    from cxreports.report import NOTEBOOKS, REPORTS

    notebook = NOTEBOOKS / REPORTS["csat-sla"]
    parameters = {"source": str(sample), "week": WEEK, "tz": TZ, "queues": ["Biling"]}
    with pytest.raises(ReportError) as caught:
        execute_notebook(notebook, parameters, tmp_path / "out.ipynb")
    assert "ParameterError: unknown queue 'Biling': the source has Billing, " in str(caught.value)


def test_a_queue_whose_name_holds_a_comma_is_given_in_quotes(tmp_path, capsys):
    from cxreports.cli import build_parser
    from cxreports.scope import Known, resolve

    args = build_parser().parse_args(
        ["metrics", "queues", "SRC", "--queues", '"Returns, Refunds", billing', "--teams", "A"]
    )
    assert args.queues == ["Returns, Refunds", "billing"]
    known = Known(queues=("Billing", "Returns, Refunds"), channels=("email",))
    assert resolve(args.queues, [], known) == (["Returns, Refunds", "Billing"], [])
    # unquoted, it is two names: the message shows the name and how to give it
    unquoted = build_parser().parse_args(
        ["metrics", "queues", "SRC", "--queues", "Returns, Refunds"]
    )
    with pytest.raises(ParameterError) as error:
        resolve(unquoted.queues, [], known)
    message = str(error.value)
    assert 'the source has Billing, "Returns, Refunds"' in message
    assert 'did you mean "Returns, Refunds"?' in message
    assert "--queues '\"Returns, Refunds\"'" in message
    assert "one item of a list in a notebook's parameters" in message
    # a config's names are never split: the question, without how to quote on a command line
    with pytest.raises(ParameterError) as error:
        resolve(["Returns"], [], known, where="group refunds: ")
    message = str(error.value)
    assert message.startswith("group refunds: unknown queue 'Returns'")
    assert message.endswith('(did you mean "Returns, Refunds"?)')
