"""End to end: the report notebooks run with papermill, become HTML and PDF, and hold up."""

from __future__ import annotations

import copy
import html
import json
import re
from pathlib import Path

import nbformat
import orjson
import polars as pl
import pytest
from pypdf import PdfReader

from cxreports import ParameterError, load, tables
from cxreports.exceptions import ReportError
from cxreports.metrics import weekly
from cxreports.report import NOTEBOOKS, REPORTS, render_reports

pytestmark = pytest.mark.slow

SECTIONS = {
    "agent-performance": [
        "Headline", "Agents", "Leaderboard", "Handle time and first response",
        "Eight-week trends", "When contacts arrive", "Outcomes", "Bot and AI-agent rooms",
        "Data quality", "Not available from this data", "Glossary", "Input fingerprint",
    ],
    "csat-sla": [
        "Headline", "SLA met by queue", "SLA met by channel", "SLA met by day", "Worst hours",
        "First response against the target", "SLA and CSAT by queue and channel",
        "CSAT ratings", "CSAT by agent", "Eight-week trends", "Data quality",
        "Not available from this data", "Glossary", "Input fingerprint",
    ],
}  # fmt: skip
MIN_CHARTS = {"agent-performance": 7, "csat-sla": 9}


def test_notebooks_are_committed_clean():
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert {p.name for p in notebooks} >= {*REPORTS.values(), "channel_review.ipynb"}
    for path in notebooks:
        name = path.name
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(not c["outputs"] and c["execution_count"] is None for c in code), name
        tagged = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
        assert len(tagged) == 1, name
        assert not any("def " in "".join(c["source"]) for c in code), "logic belongs in the library"
        assert not re.search(r"password|token|secret", "".join(tagged[0]["source"]), re.I)


def _personal_data(sample_dir: Path) -> set[str]:
    """Customer names, phones, e-mails, addresses and message text found in the input."""
    found: set[str] = set()
    for page in sorted(sample_dir.glob("*.json"))[:5]:
        for record in orjson.loads(page.read_bytes())["cxLogs"]["data"]:
            c = record["contact"]
            found |= {c["name"], c["contactNumber"], c["email"], c["address"]}
            found.add(record["room"]["last_message"])
    return found


@pytest.mark.parametrize("report", list(REPORTS))
def test_report_html_is_complete_offline_and_private(rendered, sample_dir, report):
    files = rendered[report]
    assert set(files) == {"ipynb", "html", "pdf"}
    assert files["html"].parent.name == "2026-W13"
    text = files["html"].read_text()
    for section in SECTIONS[report]:
        assert section in text, section
    assert text.count("<svg") >= MIN_CHARTS[report]
    # fully offline: nothing loaded from anywhere
    assert not re.search(r"<script[^>]+src=", text)
    assert not re.search(r"""(src|href)\s*=\s*["']?https?://""", text)
    assert not re.search(r"url\(\s*['\"]?https?://", text)
    assert "<link" not in text or not re.search(r"<link[^>]+https?://", text)
    # no code cells: the reader sees prose, tables and charts only
    assert "prepare(" not in text and "charts.use_renderer" not in text
    # every agent active in the week appears
    m = weekly(load(sample_dir), "2026-W13", "Asia/Singapore")
    for name in m.agents["agent_name"].drop_nulls():
        assert name.replace("'", "&#x27;") in text or name in text, name
    for value in _personal_data(sample_dir):
        assert value not in text, value
    # what "see the glossary" points to is there: each of its terms, once
    assert text.count('id="Glossary"') == 1
    for term in tables.GLOSSARY:
        assert text.count(f"<dt>{html.escape(term, quote=False)}</dt>") == 1, term


@pytest.mark.parametrize("report", list(REPORTS))
def test_the_executed_notebook_keeps_no_copy_of_the_tables_data(rendered, report):
    # a table's text form beside its HTML is one line, not the repr of every row it shows
    # (the agent table of 10,000 agents once made a notebook of 1 GB)
    cells = json.loads(rendered[report]["ipynb"].read_text())["cells"]
    texts = [
        "".join(output["data"]["text/plain"])
        for cell in cells
        for output in cell.get("outputs", [])
        if "text/html" in output.get("data", {}) and "text/plain" in output["data"]
    ]
    assert texts and all(len(text) < 200 for text in texts), max(texts, key=len)[:300]
    assert "<a table, shown as HTML>" in texts


@pytest.mark.parametrize("report", list(REPORTS))
def test_report_pdf_has_pages_and_text(rendered, report):
    pdf = PdfReader(rendered[report]["pdf"])
    assert len(pdf.pages) >= 3
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert "2026-W13" in text
    assert "Data quality" in text
    assert "page 1 of" in text


def test_kpi_figures_in_the_report_match_the_metrics(rendered, sample_dir):
    m = weekly(load(sample_dir), "2026-W13", "Asia/Singapore")
    text = rendered["agent-performance"]["html"].read_text()
    handled = m.kpis.filter(pl.col("metric") == "handled")["value"].item()
    resolved = m.kpis.filter(pl.col("metric") == "resolved_rate")["value"].item()
    assert f'<div class="cx-value">{handled:,.0f}</div>' in text
    assert f'<div class="cx-value">{resolved:.1%}</div>' in text


def _pages(tmp_path: Path, records: list[dict]) -> Path:
    folder = tmp_path / "pages"
    folder.mkdir()
    page = {"requestId": "r", "cxLogs": {"data": records, "total": len(records), "page": 1}}
    (folder / "page.json").write_bytes(orjson.dumps(page))
    return folder


def test_single_agent_week_without_csat_and_an_html_name(tmp_path, seed_record):
    records = []
    for i, day in enumerate(("2026-03-24", "2026-03-25", "2026-03-26")):
        r = copy.deepcopy(seed_record)
        r["id"] = f"rec-{i}"
        r["startedDate"] = f"{day} 03:00:00+00"
        r["agent"]["name"] = "<b>Zed</b>"
        records.append(r)
    out = render_reports(list(REPORTS), [_pages(tmp_path, records)], "2026-W13", "UTC", tmp_path)
    for files in out.values():
        text = files["html"].read_text()
        assert "&lt;b&gt;Zed&lt;/b&gt;" in text and "<b>Zed</b>" not in text
        assert "No customer answered a CSAT survey" in text
        assert "John Doe" not in text and "+6591234567" not in text
        assert len(PdfReader(files["pdf"]).pages) >= 2


def test_empty_week_renders_cleanly(sample_dir, tmp_path):
    out = render_reports(list(REPORTS), [sample_dir], "2026-W02", "UTC", tmp_path)
    for files in out.values():
        text = files["html"].read_text()
        # a week before the data: the notes say where the data begins
        assert "The data begins on" in text and "after this week ended" in text
        assert "Traceback" not in text and "ParameterError" not in text
        assert len(PdfReader(files["pdf"]).pages) >= 1


@pytest.mark.parametrize(
    ("week", "tz", "options", "message"),
    [
        ("13/2026", "UTC", {}, "week must look like 2026-W13"),
        ("2026-W13", "Nowhere/City", {}, "unknown time zone"),
        ("2026-W13", "UTC", {"min_volume": 0}, "min_volume must be a whole number from 1"),
        ("2026-W13", "UTC", {"min_volume": True}, "min_volume must be .* got the boolean true"),
        ("2026-W13", "UTC", {"frt_target_s": -1}, "frt_target_s must be a number of seconds"),
        ("2026-W13", "UTC", {"frt_target_s": float("nan")}, "frt_target_s must be"),
        ("2026-W13", "UTC", {"csat_score_field": "room..x"}, "csat_score_field must be a dotted"),
        ("2026-W13", "UTC", {"csat_score_field": "handledTime.x"}, "goes through 'handledTime'"),
        ("2026-W13", "UTC", {"queues": ["Billing", 3]}, "queues must be a list of names"),
        ("2026-W13", "UTC", {"formats": []}, "no output format given: choose one or more of html"),
        ("2026-W13", "UTC", {"formats": ["docx"]}, "unknown format 'docx'"),
        ("2026-W13", "UTC", {"min_volum": 3}, "unknown report parameter 'min_volum'"),
    ],
)
def test_bad_parameters_fail_before_any_kernel_starts(
    sample_dir, tmp_path, week, tz, options, message
):
    # these used to fail inside the notebook (ReportError, exit 6), after a kernel started
    with pytest.raises(ParameterError, match=message):
        render_reports(["csat-sla"], [sample_dir], week, tz, tmp_path, **options)
    assert not any(tmp_path.iterdir())


def test_an_empty_source_is_not_the_current_folder(sample_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(sample_dir)
    for sources in ([""], [" "], []):
        with pytest.raises(ParameterError, match="source is empty"):
            render_reports(["csat-sla"], sources, "2026-W13", "UTC", tmp_path)
    assert not any(tmp_path.iterdir())


def _failing_notebooks(tmp_path: Path) -> Path:
    """A copy of the report notebooks whose agent-performance raises after loading."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in REPORTS.values():
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        if name == REPORTS["agent-performance"]:
            nb.cells.insert(2, nbformat.v4.new_code_cell("raise ValueError('injected failure')"))
        nbformat.write(nb, folder / name)
    return folder


def test_a_failing_notebook_leaves_no_finished_looking_report(sample_dir, tmp_path):
    with pytest.raises(ReportError, match=r"cell \d+ .*ValueError: injected failure"):
        render_reports(
            ["agent-performance"],
            [sample_dir],
            "2026-W13",
            "UTC",
            tmp_path,
            notebooks=_failing_notebooks(tmp_path),
        )
    folder = tmp_path / "2026-W13"
    assert (folder / "agent-performance.failed.ipynb").exists()
    assert not (folder / "agent-performance.html").exists()
    assert not (folder / "agent-performance.pdf").exists()


def test_a_relative_glob_is_read_from_the_callers_folder(sample_dir, tmp_path, monkeypatch):
    # the notebook runs in notebooks/, so relative sources must be made absolute first
    monkeypatch.chdir(sample_dir.parent)
    out = render_reports(
        ["csat-sla"], [f"{sample_dir.name}/*.json"], "2026-W13", "UTC", tmp_path, formats=["html"]
    )
    assert set(out["csat-sla"]) == {"ipynb", "html"}
    assert "SLA met by queue" in out["csat-sla"]["html"].read_text()


def test_the_process_that_runs_the_kernels_and_sends_does_not_import_the_chart_libraries():
    # they are most of a second on the way to the first kernel of every run: only the
    # kernels draw charts and build the digest
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import cxreports.cli, cxreports.job, cxreports.report, cxreports.deliver\n"
        "from cxreports.report import render_runs\n"
        "render_runs([])  # what it imports as it runs\n"
        "heavy = {'altair', 'vl_convert', 'great_tables', 'weasyprint'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
