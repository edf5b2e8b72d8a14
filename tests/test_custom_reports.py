"""A team's own report notebook: checked before any kernel starts, then rendered and mailed
through the same pipeline as the built-in reports."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest
from pypdf import PdfReader

from cxreports import load
from cxreports.cli import main
from cxreports.metrics.weekly import first_week
from cxreports.period import Week
from cxreports.report import NOTEBOOKS, custom_report, render_reports
from cxreports.store import load_window, snapshot, update

EXAMPLE = NOTEBOOKS / "channel_review.ipynb"
WEEK, TZ = "2026-W13", "Asia/Singapore"


def _copy(tmp_path: Path, name: str, change=None) -> Path:
    """The example notebook copied as ``name``, after ``change(notebook)``."""
    nb = nbformat.read(EXAMPLE, as_version=4)
    if change:
        change(nb)
    path = tmp_path / "team" / name
    path.parent.mkdir(exist_ok=True)
    nbformat.write(nb, path)
    return path


def _untag(nb):
    nb.cells[0].metadata["tags"] = []


def _markdown_tagged(nb):
    nb.cells[0] = nbformat.v4.new_markdown_cell("source = 'x'", metadata={"tags": ["parameters"]})


def _r_kernel(nb):
    nb.metadata["kernelspec"] = {"name": "ir", "language": "R", "display_name": "R"}
    nb.metadata["language_info"] = {"name": "R"}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("team.ipynb", _untag, "has no code cell tagged 'parameters'"),
        ("team.ipynb", _markdown_tagged, "has no code cell tagged 'parameters'"),
        ("team.ipynb", _r_kernel, "is not a Python notebook"),
        ("team.txt", None, "must be an .ipynb file"),
        ("csat_sla.ipynb", None, "report name 'csat-sla': the name belongs to a built-in report"),
        ("all.ipynb", None, "the name belongs to a built-in report"),
        ("Team Review.ipynb", None, "the name must be 1 to 64 lower-case letters"),
    ],
)
def test_a_notebook_that_cannot_be_a_report_stops_before_any_kernel(
    sample_dir, tmp_path, capsys, name, change, message
):
    notebook = _copy(tmp_path, name, change)
    out = tmp_path / "out"
    code, stdout, stderr = run(
        capsys, "report", str(sample_dir), "--notebook", str(notebook), "--week", WEEK,
        "--out", str(out),
    )  # fmt: skip
    assert (code, stdout) == (2, "")
    [line] = stderr.strip().splitlines()
    assert line.startswith("cxreports report: error: ") and message in line
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["SAMPLE", "--notebook", "MISSING"], "the notebook is not a file"),
        (["SAMPLE", "--notebook", "NOT_JSON"], "is not a Jupyter notebook nbformat can read"),
        (["SAMPLE", "--notebook", "EXAMPLE", "--notebook", "COPY"], "two reports are named"),
        (["SAMPLE", "--notebook", "EXAMPLE", "--min-volume", "0"], "min_volume must be"),
        (["SAMPLE", "--notebook", "EXAMPLE", "--week", "2026-W99"], "has no ISO week 99"),
        (["SAMPLE"], "name the report first: agent-performance, csat-sla, agent-scorecards or all"),
        (["all", "--notebook", "EXAMPLE"], "no source given"),
    ],
)
def test_bad_report_arguments_are_one_line_exit_2(sample_dir, tmp_path, capsys, argv, message):
    (tmp_path / "not_json.ipynb").write_text("{ not json")
    names = {
        "SAMPLE": str(sample_dir),
        "MISSING": str(tmp_path / "missing.ipynb"),
        "NOT_JSON": str(tmp_path / "not_json.ipynb"),
        "EXAMPLE": str(EXAMPLE),
        "COPY": str(_copy(tmp_path, EXAMPLE.name)),
    }
    out = tmp_path / "out"
    code, stdout, stderr = run(
        capsys, "report", *[names.get(a, a) for a in argv], "--out", str(out)
    )
    assert (code, stdout) == (2, "")
    [line] = stderr.strip().splitlines()
    assert message in line, line
    assert not out.exists()


def test_the_report_name_comes_from_the_file_name(tmp_path):
    report = custom_report(_copy(tmp_path, "Team_Review2.ipynb"))
    assert (report.name, report.title) == ("team-review2", "Team review2")
    assert report.notebook.is_absolute()
    named = custom_report(report.notebook, "queues-weekly", "Queues, weekly")
    assert (named.name, named.title) == ("queues-weekly", "Queues, weekly")


@pytest.mark.slow
def test_a_custom_notebook_renders_and_is_mailed_like_a_built_in_report(
    sample_dir, tmp_path, capsys, monkeypatch
):
    # from another folder, with a relative notebook path: the kernel runs in the notebook's
    # folder, the sources are read from the caller's
    team = tmp_path / "team"
    shutil.copytree(EXAMPLE.parent, team, ignore=shutil.ignore_patterns(".*"))
    monkeypatch.chdir(tmp_path)
    code, stdout, _ = run(
        capsys, "report", str(sample_dir), "--notebook", "team/channel_review.ipynb",
        "--week", WEEK, "--tz", TZ, "--out", "out",
    )  # fmt: skip
    assert code == 0
    week = tmp_path / "out" / WEEK
    assert sorted(p.name for p in week.iterdir()) == [
        "channel-review.html", "channel-review.ipynb", "channel-review.pdf", "email",
    ]  # fmt: skip
    assert str(week / "channel-review.pdf") in stdout

    html = (week / "channel-review.html").read_text()
    assert "<title>Channel review · 2026-W13</title>" in html
    for section in ("Headline", "Volume by day", "SLA met by channel", "Channels side by side"):
        assert section in html, section
    assert html.count("<svg") >= 2
    assert "A custom report, as a team would write one" not in html  # tagged remove-cell
    assert "prepare(" not in html and "Traceback" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?https?://""", html)
    # the same data as the built-in reports read: its fingerprint in the footer
    assert load(sample_dir).fingerprint in html
    text = "\n".join(page.extract_text() for page in PdfReader(week / "channel-review.pdf").pages)
    assert "Channel review" in text and "2026-W13" in text and "page 1 of" in text

    code, stdout, _ = run(capsys, "send", str(week), "--to", "team@example.com", "--dry-run")
    assert code == 0
    assert "attached: channel-review.pdf, channel-review.html" in stdout
    message = email.message_from_bytes(
        (week / "email" / "message.eml").read_bytes(), policy=email.policy.default
    )
    attached = {p.get_filename(): p.get_payload(decode=True) for p in message.iter_attachments()}
    assert set(attached) == {"channel-review.html", "channel-review.pdf"}
    assert attached["channel-review.pdf"] == (week / "channel-review.pdf").read_bytes()


def _prints_the_window(nb):
    nb.cells.append(
        nbformat.v4.new_code_cell(
            'print("window", logs.interactions.height, logs.interactions.width, '
            "logs.holds.height, logs.wrap_up_tags.height)"
        )
    )


@pytest.mark.slow
def test_a_custom_notebook_rendered_beside_a_built_in_one_reads_the_whole_window(
    sample_dir, tmp_path
):
    """From a store, the logs a notebook is given are read when it uses them; in a kernel
    that maps the week another process computed, they are still the whole window of the
    run's snapshot."""
    store = tmp_path / "store"
    update([sample_dir], store)
    notebook = _copy(tmp_path, "window_check.ipynb", _prints_the_window)
    out = tmp_path / "out"
    render_reports(
        ["csat-sla"], [store], WEEK, TZ, out, custom=[custom_report(notebook)], formats=["html"]
    )
    executed = nbformat.read(out / WEEK / "window-check.ipynb", as_version=4)
    printed = [
        o["text"] for c in executed.cells for o in c.get("outputs", []) if o.get("name") == "stdout"
    ]
    wk = Week.resolve(WEEK, TZ)
    whole = load_window(
        store,
        first_week(wk, 8).start_utc,
        wk.end_utc + timedelta(days=7),
        as_of=snapshot(store).version,
        children_from=wk.start_utc,
    )
    shape = (whole.interactions.height, whole.interactions.width, whole.holds.height)
    expected = "window {} {} {} {}".format(*shape, whole.wrap_up_tags.height)
    assert whole.holds.height > 0 and whole.wrap_up_tags.height > 0
    assert any(expected in text for text in printed), printed
