"""The warm-kernel pool: many reports in few kernels render as if each had a kernel of its own."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import nbformat
import psutil
import pytest

from cxreports import report as report_module
from cxreports.cli import main as main_cli
from cxreports.exceptions import EmptyDataError, ParameterError, ReportError
from cxreports.iorw import remove_dead
from cxreports.kernels import KernelPool, WarmKernel
from cxreports.render import execute_notebook
from cxreports.report import (
    Report,
    custom_report,
    keep_prepared,
    plan,
    prepare,
    render_reports,
    render_runs,
)
from cxreports.store import snapshot, update

WEEK, TZ = "2026-W13", "Asia/Singapore"
#: The runs a weekly job could make of one store: everything, one queue, one channel.
AUDIENCES = {"all": {}, "billing": {"queues": ["Billing"]}, "voice": {"channels": ["voice"]}}
#: What a week's email folder holds once its run has rendered.
DIGEST_FILES = ["body.html", "body.txt", "daily.png", "digest.json", "trend.png"]
#: Far above a few seconds of work: only a hang reaches it.
HANG_S = 180

T = TypeVar("T")


@pytest.fixture(scope="module", autouse=True)
def private_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """tempfile's folder for this module alone: the kernels' socket folders go there.

    Other processes (a benchmark run) make and remove ``cxreports-kernel-*`` folders in the
    shared /tmp at any moment; here, every one found was made by this process.
    """
    folder = tmp_path_factory.mktemp("tmp")
    saved = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = saved


def _kernel_traces() -> tuple[set[str], set[int]]:
    """The kernels' socket folders in the temp folder, and this process's child processes.

    The suite's one shared browser is left out: its chromedriver's Chromium starts helper
    processes of its own whenever it likes, which are not the kernels' doing.
    """
    folders = {p.name for p in Path(tempfile.gettempdir()).glob("cxreports-kernel-*")}
    children = psutil.Process().children(recursive=True)
    browser = set()
    for child in children:
        try:
            if "chromedriver" in child.name():
                browser |= {child.pid} | {p.pid for p in child.children(recursive=True)}
        except psutil.NoSuchProcess:
            pass
    return folders, {p.pid for p in children} - browser


def _left_since(before: tuple[set[str], set[int]]) -> tuple[set[str], list[str]]:
    folders, children = _kernel_traces()
    left = []
    for pid in children - before[1]:
        try:
            process = psutil.Process(pid)
            left.append(f"{pid} {process.status()}: {' '.join(process.cmdline())[:120]}")
        except psutil.NoSuchProcess:  # ended between the two looks
            pass
    return folders - before[0], left


def _within(seconds: float, call: Callable[[], T]) -> T:
    """``call()``, failing the test (not hanging the suite) if it has not returned in time."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: a hang"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _notebook(path: Path, *cells: str | tuple[str, list[str]]) -> Path:
    """A report notebook at ``path``: a parameters cell, then ``cells`` (source, or source
    and tags)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    nb.cells.append(
        nbformat.v4.new_code_cell("source = None\nweek = None", metadata={"tags": ["parameters"]})
    )
    for cell in cells:
        source, tags = cell if isinstance(cell, tuple) else (cell, [])
        nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags}))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


_PID = ("import os\nprint('pid', os.getpid())", ["remove-cell"])


def _namespace_notebooks(folder: Path) -> list[Report]:
    """Two reports in two folders: the first leaves a global, a working folder and an object
    in a reference cycle behind, the second fails if it finds any of them."""
    setter = _notebook(
        folder / "first" / "set_global.ipynb",
        _PID,
        "leaked = 1\nexit = 1\nos.chdir('/')\n"
        # garbage only the cycle collector frees: a kernel that set it aside for good (as it
        # does with what outlives a notebook) would keep it as long as it runs
        "import sys, weakref\nclass Cycle: pass\ncycle = Cycle()\ncycle.me = cycle\n"
        "sys.cxreports_cycle = weakref.ref(cycle)\nprint('set')",
    )
    checked = folder / "second"
    checker = _notebook(
        checked / "check_namespace.ipynb",
        _PID,
        "import os\n"
        "assert 'leaked' not in globals(), 'a global of an earlier notebook is still set'\n"
        "assert not isinstance(exit, int), 'an IPython name is still overwritten'\n"
        "assert not any('leaked ' + '= 1' in cell for cell in In), 'an earlier cell is in In'\n"
        f"assert os.getcwd() == {str(checked)!r}, os.getcwd()\n"
        "assert not get_ipython().history_manager.enabled, 'cells go to ~/.ipython history'\n"
        "import sys\n"
        "assert sys.cxreports_cycle() is None, 'an earlier notebook is still in memory'\n"
        "print('cwd', os.getcwd())",
    )
    return [custom_report(setter), custom_report(checker)]


def _comparable(files: dict[str, Path]) -> str:
    """A report's HTML without what changes from one render to the next by design: the footer's
    time of rendering, papermill's random id of the injected parameters cell and great_tables'
    random table ids."""
    html = files["html"].read_text()
    html = re.sub(r'<tr><th scope="row">Generated</th><td>[^<]*</td></tr>', "", html)
    cells = nbformat.read(files["ipynb"], as_version=4).cells
    [injected] = [c.id for c in cells if "injected-parameters" in c.metadata.get("tags", [])]
    html = html.replace(f"cell-id={injected}", "cell-id=injected")
    tables = re.findall(r'<div id="([a-z]{10})" style="padding-left:0px;', html)
    for i, table in enumerate(tables):
        html = re.sub(rf"(?<=[#\"]){table}\b", f"gt-{i}", html)
    return html


def _digest(week_dir: Path) -> dict[str, bytes]:
    folder = week_dir / "email"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _printed(ipynb: Path) -> list[str]:
    """Every line the executed notebook printed."""
    nb = nbformat.read(ipynb, as_version=4)
    return [
        line
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "stream"
        for line in out.text.splitlines()
    ]


@pytest.fixture(scope="module")
def store(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of the sample, read by the module's renders (never written after)."""
    folder = tmp_path_factory.mktemp("store") / "store"
    update([sample_dir], folder)
    return folder


@pytest.fixture(scope="module")
def fan_out(store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three runs of csat-sla (HTML) and their digests in one kernel, then each run alone (as
    the command line renders one: its reports and digest side by side in a kernel a core,
    sharing the week the first computes).

    The first run also holds the two namespace notebooks (see :func:`_namespace_notebooks`),
    rendered right after each other in that kernel.
    """
    base = tmp_path_factory.mktemp("fan-out")
    custom = _namespace_notebooks(base / "team")

    def runs(out: Path):  # type: ignore[no-untyped-def]
        return [
            plan(
                ["csat-sla"],
                [store],
                WEEK,
                TZ,
                out / name,
                formats=["html"],
                custom=custom if name == "all" else (),
                **filters,
            )
            for name, filters in AUDIENCES.items()
        ]

    before = _kernel_traces()
    together = runs(base / "together")
    written = _within(HANG_S, lambda: render_runs(together, kernels=1))
    left = _left_since(before)
    alone = {}
    for run, name in zip(runs(base / "alone"), AUDIENCES, strict=True):
        # render_reports plans it again, as the command line does
        alone[name] = render_reports(
            ["csat-sla"],
            [store],
            WEEK,
            TZ,
            run.target.parent,
            formats=["html"],
            custom=run.reports[1:],
            **AUDIENCES[name],
        )
    return {
        "runs": dict(zip(AUDIENCES, together, strict=True)),
        "together": dict(zip(AUDIENCES, written, strict=True)),
        "alone": alone,
        "left": left,
        "left_after_alone": _left_since(before),
    }


@pytest.mark.slow
@pytest.mark.parametrize("audience", list(AUDIENCES))
def test_reports_rendered_in_one_kernel_equal_reports_rendered_alone(fan_out, audience):
    together, alone = fan_out["together"][audience], fan_out["alone"][audience]
    assert list(together) == list(alone)
    assert '<th scope="row">Generated</th>' in together["csat-sla"]["html"].read_text()
    for report, files in together.items():
        assert set(files) == {"ipynb", "html"}, report
        assert _comparable(files) == _comparable(alone[report]), report


@pytest.mark.slow
@pytest.mark.parametrize("audience", list(AUDIENCES))
def test_a_digest_written_in_one_kernel_names_its_reports_and_reads_as_one_alone(fan_out, audience):
    week = fan_out["runs"][audience].target
    together = _digest(week)
    alone = _digest(fan_out["alone"][audience]["csat-sla"]["html"].parent)
    assert list(together) == list(alone) == DIGEST_FILES
    assert together["body.txt"] == alone["body.txt"]
    assert together["digest.json"] == alone["digest.json"]
    names = ["csat-sla", "set-global", "check-namespace"] if audience == "all" else ["csat-sla"]
    assert json.loads(together["digest.json"])["reports"] == names
    assert sorted(p.name for p in week.iterdir() if p.name.startswith(".")) == []


@pytest.mark.slow
def test_a_digest_written_after_reports_in_its_kernel_draws_the_charts_of_one_alone(fan_out):
    for audience in AUDIENCES:
        together = _digest(fan_out["runs"][audience].target)
        alone = _digest(fan_out["alone"][audience]["csat-sla"]["html"].parent)
        for name in ("body.html", "daily.png", "trend.png"):
            assert together[name] == alone[name], f"{audience}: {name}"


@pytest.mark.slow
def test_the_runs_differ_so_a_week_served_to_the_wrong_run_would_show(fan_out):
    pages = {a: _comparable(files["csat-sla"]) for a, files in fan_out["together"].items()}
    assert len(set(pages.values())) == len(AUDIENCES)
    assert "Billing" in pages["billing"] and "voice" in pages["voice"]
    texts = {a: (r.target / "email" / "body.txt").read_text() for a, r in fan_out["runs"].items()}
    assert len(set(texts.values())) == len(AUDIENCES)


@pytest.mark.slow
def test_each_notebook_starts_with_a_clean_namespace_in_its_own_folder(fan_out):
    written = fan_out["together"]["all"]
    printed = {name: _printed(files["ipynb"]) for name, files in written.items()}
    # both ran in one kernel, the checker right after the setter: the check is not vacuous
    pids = {name: [x for x in lines if x.startswith("pid ")] for name, lines in printed.items()}
    assert len(pids["set-global"]) == 1 and pids["set-global"] == pids["check-namespace"]
    assert "set" in printed["set-global"]
    checked = fan_out["runs"]["all"].reports[2].notebook.parent
    assert printed["check-namespace"][-1] == f"cwd {checked}"
    html = written["check-namespace"]["html"].read_text()
    assert f"cwd {checked}" in html and "pid " not in html  # remove-cell honoured


@pytest.mark.slow
def test_no_kernel_outlives_its_runs(fan_out):
    assert fan_out["left"] == (set(), [])
    assert fan_out["left_after_alone"] == (set(), [])


@pytest.mark.slow
def test_a_failing_notebook_fails_every_run_and_leaves_no_digest(store, tmp_path):
    team = tmp_path / "team"
    fine = custom_report(_notebook(team / "fine.ipynb", "print('fine')"))
    fails = custom_report(
        _notebook(team / "fails.ipynb", "x = 1", "raise ValueError('on purpose')")
    )
    runs = [
        plan([], [store], WEEK, TZ, tmp_path / name, formats=["html"], custom=[report])
        for name, report in (("first", fine), ("second", fails))
    ]
    for run in runs:  # digests of an earlier run, which must not be sent with this one's failure
        (run.target / "email").mkdir(parents=True)
        (run.target / "email" / "digest.json").write_text('{"subject": "old", "images": []}')
    before = _kernel_traces()
    # one kernel: the first run and its digest are done before the second fails
    with pytest.raises(ReportError) as failed:
        _within(HANG_S, lambda: render_runs(runs, kernels=1))
    assert (runs[0].target / "fine.html").is_file()  # so its digest was staged, too
    message = str(failed.value)
    assert message.startswith("fails.ipynb: cell 3 (`raise ValueError('on purpose')`) failed")
    assert "ValueError: on purpose" in message
    for run in runs:
        assert not (run.target / "email" / "digest.json").exists(), run.target
        assert not list(run.target.glob(".email-*")), run.target
    second = runs[1].target
    assert (second / "fails.failed.ipynb").is_file()
    assert not (second / "fails.html").exists() and not (second / "fails.ipynb").exists()
    assert _left_since(before) == (set(), [])


@pytest.mark.slow
def test_a_notebook_that_kills_its_kernel_is_a_report_error_not_a_hang(store, tmp_path):
    dies = custom_report(
        _notebook(tmp_path / "team" / "dies.ipynb", "import os\nos._exit(1)", "print('after')")
    )
    run = plan([], [store], WEEK, TZ, tmp_path / "out", formats=["html"], custom=[dies])
    before = _kernel_traces()
    with pytest.raises(ReportError, match=r"dies\.ipynb: the 'python3' kernel died in cell 2 "):
        _within(HANG_S, lambda: render_runs([run], kernels=1))
    assert (run.target / "dies.failed.ipynb").is_file()
    assert not (run.target / "email" / "digest.json").exists()
    assert not list(run.target.glob(".email-*"))
    assert _left_since(before) == (set(), [])


@pytest.mark.slow
def test_a_kernel_that_dies_while_writing_the_digest_is_a_report_error_not_a_hang(store, tmp_path):
    # the notebook leaves a digest builder that ends the kernel when the run calls it
    kills = custom_report(
        _notebook(
            tmp_path / "team" / "kills.ipynb",
            "import os\nimport cxreports.digest\n"
            "cxreports.digest.build = lambda *a, **k: os._exit(1)",
        )
    )
    run = plan([], [store], WEEK, TZ, tmp_path / "out", formats=["html"], custom=[kills])
    before = _kernel_traces()
    with pytest.raises(ReportError, match="kernel died while writing the digest"):
        _within(HANG_S, lambda: render_runs([run], kernels=1))
    assert not (run.target / "email" / "digest.json").exists()
    assert not list(run.target.glob(".email-*"))
    assert _left_since(before) == (set(), [])


@pytest.fixture
def kept(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """prepare() keeps what it read and computed, as in a pool's kernel, for one test; the
    counter tells how often it read a store window, loaded pages or computed a week."""
    calls: Counter[str] = Counter()

    def counted(name: str, function: Callable[..., T]) -> Callable[..., T]:
        def call(*args: Any, **kwargs: Any) -> T:
            calls[name] += 1
            return function(*args, **kwargs)

        return call

    monkeypatch.setattr(
        report_module.store, "load_window", counted("read", report_module.store.load_window)
    )
    monkeypatch.setattr(report_module, "load", counted("read", report_module.load))
    monkeypatch.setattr(report_module, "weekly", counted("computed", report_module.weekly))
    keep_prepared(True)
    try:
        yield calls
    finally:
        keep_prepared(False)


def _queues(prepared: tuple) -> set[str]:
    return set(prepared[0].interactions["queue_name"].drop_nulls())


def test_a_store_read_at_a_version_is_kept_and_the_newest_is_read_again(kept, sample_dir, tmp_path):
    pages, store = tmp_path / "pages", tmp_path / "store"
    shutil.copytree(sample_dir, pages)
    update([pages], store)
    version = snapshot(store).version
    pinned = prepare(store, WEEK, TZ, as_of=version)
    assert kept == {"read": 1, "computed": 1}
    again = prepare(store, WEEK, TZ, as_of=version)
    assert kept == {"read": 1, "computed": 1}
    assert again[1].summary.equals(pinned[1].summary)
    # another scope of the same week: computed anew, from the data already read
    billing = prepare(store, WEEK, TZ, as_of=version, queues=["Billing"])
    assert kept == {"read": 1, "computed": 2}
    assert billing[1].queues["queue_name"].to_list() == ["Billing"]
    # the newest snapshot, or a version given as text, may mean another snapshot later
    prepare(store, WEEK, TZ)
    prepare(store, WEEK, TZ)
    prepare(store, WEEK, TZ, as_of=str(version))
    assert kept == {"read": 4, "computed": 5}

    for page in sorted(pages.glob("*.json")):
        page.write_bytes(page.read_bytes().replace(b'"Billing"', b'"Sales"'))
    update([pages], store)
    logs, metrics = prepare(store, WEEK, TZ)
    assert logs.extra["store_version"] > version
    assert "Billing" not in metrics.queues["queue_name"].to_list()
    # the pinned snapshot still answers from what was kept, and still holds Billing
    before = dict(kept)
    kept_pinned = prepare(store, WEEK, TZ, as_of=version)
    assert kept == before
    assert "Billing" in kept_pinned[1].queues["queue_name"].to_list()


def test_the_queues_a_pinned_store_has_are_read_once_for_every_group(
    kept, sample_dir, tmp_path, monkeypatch
):
    from cxreports import scope

    reads: list[object] = []  # the versions whose queues and channels were read from the store
    scan = scope.store.scan

    def counted(source, table, as_of=None):  # type: ignore[no-untyped-def]
        reads.append(as_of)
        return scan(source, table, as_of=as_of)

    monkeypatch.setattr(scope.store, "scan", counted)
    pages, store = tmp_path / "pages", tmp_path / "store"
    shutil.copytree(sample_dir, pages)
    update([pages], store)
    version = snapshot(store).version
    for queues, channels in ((["Billing"], []), ([], ["voice"]), (["billing"], ["Voice"])):
        prepare(store, WEEK, TZ, as_of=version, queues=queues, channels=channels)
    assert reads == [version]
    # another version of the store has its own queues: a queue new in it is known there
    for page in sorted(pages.glob("*.json")):
        page.write_bytes(page.read_bytes().replace(b'"Billing"', b'"Collections"'))
    update([pages], store)
    newer = snapshot(store).version
    _, metrics = prepare(store, WEEK, TZ, as_of=newer, queues=["Collections"])
    assert metrics.queues["queue_name"].to_list() == ["Collections"]
    assert reads == [version, newer]
    with pytest.raises(ParameterError, match="unknown queue 'Collections'"):
        prepare(store, WEEK, TZ, as_of=version, queues=["Collections"])


def test_a_notebook_that_changes_what_it_was_given_changes_nothing_kept(kept, store):
    version = snapshot(store).version
    logs, metrics = prepare(store, WEEK, TZ, as_of=version)
    agents = metrics.agents
    # what an analyst may do in a notebook: rename columns in place, edit the dicts
    agents.columns = [c.upper() for c in agents.columns]
    metrics.params["queues"].append("Nowhere")
    metrics.quality["load"]["records_read"] = -1
    logs.extra["store_version"] = "changed"
    logs.interactions.columns = [c.upper() for c in logs.interactions.columns]
    again_logs, again = prepare(store, WEEK, TZ, as_of=version)
    # the figures' read, and the whole window's once the notebook used the interactions
    assert kept == {"read": 2, "computed": 1}
    assert "ranked" in again.agents.columns and again.params["queues"] == []
    assert again.quality["load"]["records_read"] > 0
    assert again_logs.extra["store_version"] == version
    assert "queue_name" in again_logs.interactions.columns


def test_the_logs_of_every_scope_of_a_kept_load_are_read_once(kept, store):
    version = snapshot(store).version
    everything, _ = prepare(store, WEEK, TZ, as_of=version)
    billing, _ = prepare(store, WEEK, TZ, as_of=version, queues=["Billing"])
    # each notebook's logs are the whole window, whatever its scope
    assert everything.interactions.height == billing.interactions.height > 0
    assert kept == {"read": 2, "computed": 2}  # the figures' read, and the logs' once


def test_a_week_computed_with_the_scorecards_serves_the_reports_without_them(kept, store):
    version = snapshot(store).version
    _, with_cards = prepare(store, WEEK, TZ, as_of=version, scorecards=True)
    assert with_cards.scorecards is not None and with_cards.scorecards.cards
    _, without = prepare(store, WEEK, TZ, as_of=version)
    assert kept == {"read": 1, "computed": 1}
    assert without.scorecards is None
    # what a report without the scorecards is given: the same as computed without them
    keep_prepared(False)
    _, fresh = prepare(store, WEEK, TZ, as_of=version)
    keep_prepared(True)
    assert fresh.scorecards is None
    for name in ("summary", "agents", "queues", "channels", "trend", "rows", "hourly"):
        assert getattr(without, name).equals(getattr(fresh, name)), name
    assert without.changes.claims.equals(fresh.changes.claims)
    # the other way round the scorecards are computed: they are more than the week
    _, cards_again = prepare(store, WEEK, TZ, as_of=version, queues=["Billing"])
    _, cards_billing = prepare(store, WEEK, TZ, as_of=version, queues=["Billing"], scorecards=True)
    assert cards_again.scorecards is None and cards_billing.scorecards is not None
    assert kept == {"read": 3, "computed": 4}  # turning keeping off forgot the first read


@pytest.mark.slow
def test_a_run_with_scorecards_renders_them_first_and_its_reports_as_alone(store, tmp_path):
    def run(out: Path, names: list[str]):  # type: ignore[no-untyped-def]
        return plan(names, [store], WEEK, TZ, out, formats=["html"], queues=["Billing"])

    together = run(tmp_path / "together", ["csat-sla", "agent-scorecards"])
    [written] = _within(HANG_S, lambda: render_runs([together], kernels=1))
    alone = run(tmp_path / "alone", ["csat-sla"])
    [alone_written] = render_runs([alone], kernels=1)

    def started(name: str) -> str:
        cells = nbformat.read(written[name]["ipynb"], as_version=4).cells
        return cells[0].metadata.papermill.start_time

    assert started("agent-scorecards") < started("csat-sla")
    # the csat-sla report was given the scorecards' week without them: as if rendered alone
    assert _comparable(written["csat-sla"]) == _comparable(alone_written["csat-sla"])
    assert "Billing" in _comparable(written["csat-sla"])


@pytest.mark.slow
def test_a_run_of_one_report_and_its_digest_start_one_kernel(store, tmp_path, monkeypatch):
    started: list[WarmKernel] = []
    start = WarmKernel.start
    monkeypatch.setattr(WarmKernel, "start", lambda kernel: started.append(kernel) or start(kernel))
    one = plan(["csat-sla"], [store], WEEK, TZ, tmp_path / "one", formats=["html"])
    [written] = _within(HANG_S, lambda: render_runs([one], kernels=2))
    assert len(started) == 1  # the digest follows the report in its kernel
    assert set(written) == {"csat-sla"} and (one.target / "email" / "digest.json").is_file()
    two = plan(
        ["csat-sla", "agent-performance"], [store], WEEK, TZ, tmp_path / "two", formats=["html"]
    )
    _within(HANG_S, lambda: render_runs([two], kernels=2))
    assert len(started) == 3  # two reports: side by side


def test_pages_are_read_again_once_a_file_changes_and_turning_off_forgets(
    kept, sample_dir, tmp_path
):
    pages = tmp_path / "pages"
    shutil.copytree(sample_dir, pages)
    prepare(pages, WEEK, TZ)
    prepare(pages, WEEK, TZ)
    assert kept["read"] == 1
    page = sorted(pages.glob("*.json"))[-1]
    stat = page.stat()

    # same size, new content and modification time
    page.write_bytes(page.read_bytes().replace(b'"Billing"', b'"Billinh"'))
    assert page.stat().st_size == stat.st_size
    os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    renamed = prepare(pages, WEEK, TZ)
    assert kept["read"] == 2 and "Billinh" in _queues(renamed)
    prepare(pages, WEEK, TZ)
    assert kept["read"] == 2

    # new size, the modification time put back
    stamp = page.stat()
    page.write_bytes(page.read_bytes().replace(b'"Billinh"', b'"Billing"').replace(b"}", b"} "))
    os.utime(page, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert page.stat().st_size != stamp.st_size
    reread = prepare(pages, WEEK, TZ)
    assert kept["read"] == 3 and "Billinh" not in _queues(reread)

    keep_prepared(False)
    prepare(pages, WEEK, TZ)
    prepare(pages, WEEK, TZ)
    assert kept["read"] == 5
    keep_prepared(True)
    prepare(pages, WEEK, TZ)
    prepare(pages, WEEK, TZ)
    assert kept["read"] == 6


def _dead_and_live(prefix: str, tmp: Path | None = None) -> tuple[Path, Path]:
    """A folder (in the temporary folder) named as a process that is gone would name it, and
    one named as this process: what a run killed with -9 leaves, and what a live run holds."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    tmp = tmp or Path(tempfile.gettempdir())
    stale, live = tmp / f"{prefix}{dead.pid}-abc123", tmp / f"{prefix}{os.getpid()}-def456"
    for folder in (stale, live):
        folder.mkdir(exist_ok=True)
    return stale, live


def test_socket_folders_of_killed_runs_are_removed_and_live_ones_kept():
    # a run killed with -9 leaves its kernels' socket folder behind; the next pool removes it
    stale, live = _dead_and_live("cxreports-kernel-")
    kernel = WarmKernel("python3", 60)  # not started: making one is enough
    try:
        assert not stale.exists() and live.is_dir()
        assert Path(kernel.sockets).name.startswith(f"cxreports-kernel-{os.getpid()}-")
    finally:
        kernel.shutdown()
        shutil.rmtree(live)
    assert not Path(kernel.sockets).exists()


@pytest.mark.slow
def test_a_run_killed_half_way_leaves_nothing_hidden_once_it_runs_again(store, tmp_path):
    import signal
    import sys
    import time

    def in_temporary_folder() -> set[str]:  # kernels' sockets, connection files, shared weeks
        names = (p.name for p in Path(tempfile.gettempdir()).iterdir())
        return {n for n in names if n.startswith("cxreports-") or re.fullmatch(r"tmp.*\.json", n)}

    before = in_temporary_folder()
    out, week = tmp_path / "out", tmp_path / "out" / "2026-W13"
    command = [
        sys.executable, "-c", "import sys; from cxreports.cli import main; sys.exit(main())",
        "report", "all", str(store), "--week", "2026-W13", "--tz", "Asia/Singapore",
        "--out", str(out), "--format", "html",
    ]  # fmt: skip
    env = {**os.environ, "TMPDIR": tempfile.gettempdir()}  # this module's private one
    run = subprocess.Popen(command, start_new_session=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while not (week.is_dir() and any(p.name.startswith(".") for p in week.iterdir())):
            assert run.poll() is None, "the run ended before it wrote anything"
            assert time.monotonic() < deadline, "no temporary file appeared"
            time.sleep(0.05)
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # kill -9, its kernels too: no clean-up runs
        run.wait()
    assert any(p.name.startswith(".") for p in week.iterdir())  # what the kill left
    assert in_temporary_folder() - before  # its kernels' sockets, at least
    assert main_cli([*command[3:]]) == 0
    assert [p.name for p in week.iterdir() if p.name.startswith(".")] == []
    # nothing of either run in the temporary folder: no kernel's key in a connection file
    assert in_temporary_folder() - before == set()
    assert (week / "agent-performance.html").is_file() and (week / "email" / "body.html").is_file()


def test_digest_staging_folders_of_killed_runs_are_removed_and_live_ones_kept(tmp_path):
    stale, live = _dead_and_live(".email-", tmp_path)
    for folder in (stale, live):
        (folder / "body.html").write_text("<p>half</p>")
    remove_dead(tmp_path, report_module._STAGING_NAME)
    assert not stale.exists() and live.is_dir()


def test_folders_of_shared_weeks_of_killed_runs_are_removed_and_live_ones_kept():
    stale, live = _dead_and_live("cxreports-weeks-")
    with KernelPool(1, share_weeks=True) as pool:  # no task: no kernel starts
        shared = Path(pool.shared)
        assert not stale.exists() and live.is_dir() and shared.is_dir()
        assert shared.name.startswith(f"cxreports-weeks-{os.getpid()}-")
    assert not shared.exists()
    # a pool that shares nothing cleans up too (the next run may not split its reports)
    stale, _ = _dead_and_live("cxreports-weeks-")
    with KernelPool(1) as pool:
        assert pool.shared is None and not stale.exists() and live.is_dir()
    shutil.rmtree(live)


def test_kernels_that_share_weeks_compute_a_week_once_and_read_it_whole(kept, store, tmp_path):
    keep_prepared(True, shared=tmp_path)
    version = snapshot(store).version
    barrier = threading.Barrier(2)

    def report() -> tuple:  # two kernels' first notebooks, at the same moment
        barrier.wait()
        return prepare(store, WEEK, TZ, as_of=version)

    with ThreadPoolExecutor(2) as threads:
        first, second = [f.result() for f in [threads.submit(report) for _ in range(2)]]
    assert kept["computed"] == 1
    # as a kernel of its own would find it: nothing kept in the process, only what is shared
    report_module._KEPT.weeks.clear()
    report_module._KEPT.loads.clear()
    logs, metrics = prepare(store, WEEK, TZ, as_of=version)
    assert kept == {"read": 1, "computed": 1}
    for name, table in first[0].tables().items():
        assert getattr(logs, name).equals(table), name
    assert (logs.fingerprint, logs.extra, logs.records_read) == (
        first[0].fingerprint,
        first[0].extra,
        first[0].records_read,
    )
    for name in ("summary", "agents", "trend", "rows", "heatmap"):
        assert getattr(metrics, name).equals(getattr(first[1], name)), name
        assert getattr(second[1], name).equals(getattr(first[1], name)), name
    assert metrics.changes.claims.equals(first[1].changes.claims)
    # another week is computed: the folder holds each week under its own name
    prepare(store, WEEK, TZ, as_of=version, queues=["Billing"])
    assert kept["computed"] == 2
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2


@pytest.mark.parametrize("fault", ["no folder", "full"])
def test_a_week_that_cannot_be_shared_is_computed_all_the_same(
    kept, store, tmp_path, monkeypatch, fault
):
    shared = tmp_path / "shared"
    if fault == "full":
        shared.mkdir()
        real = open

        def full(path, mode="r", *args, **options):  # type: ignore[no-untyped-def]
            if "w" in mode and Path(path).is_relative_to(shared):
                path = "/dev/full"  # a full folder: ENOSPC when the week is written
            return real(path, mode, *args, **options)

        monkeypatch.setattr("builtins.open", full)
    keep_prepared(True, shared=shared)
    _, metrics = prepare(store, WEEK, TZ, as_of=snapshot(store).version)
    assert kept["computed"] == 1 and metrics.handled > 0
    assert not shared.exists() or [p.name for p in shared.iterdir() if p.is_dir()] == []


def test_no_usable_temporary_folder_is_one_line_not_a_traceback(
    store, tmp_path, monkeypatch, capsys
):
    def no_folder() -> str:  # what tempfile says when TMPDIR, /tmp and /var/tmp are unusable
        raise FileNotFoundError(2, "No usable temporary directory found in ['/tmp', '/var/tmp']")

    monkeypatch.setattr(tempfile, "gettempdir", no_folder)
    out = tmp_path / "out"
    code = main_cli(["report", "csat-sla", str(store), "--week", WEEK, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 6
    assert "no writable temporary folder" in err and "set TMPDIR" in err
    assert "Traceback" not in err


def test_a_shared_week_removed_meanwhile_is_computed_again(kept, store, tmp_path):
    keep_prepared(True, shared=tmp_path)
    version = snapshot(store).version
    prepare(store, WEEK, TZ, as_of=version)
    [week] = [p for p in tmp_path.iterdir() if p.is_dir()]
    (week / "rest.pickle").unlink()  # what a cleaner of the temporary folder does
    report_module._KEPT.weeks.clear()  # as another kernel finds it
    _, metrics = prepare(store, WEEK, TZ, as_of=version)
    assert kept["computed"] == 2 and metrics.handled > 0


@pytest.mark.parametrize("first", ["with scorecards", "without"])
def test_a_shared_week_with_the_scorecards_serves_the_reports_without_them(
    kept, store, tmp_path, first
):
    keep_prepared(True, shared=tmp_path)
    version = snapshot(store).version
    order = [True, False] if first == "with scorecards" else [False, True]
    got = {}
    for scorecards in order:
        report_module._KEPT.weeks.clear()  # each as another kernel of the pool
        got[scorecards] = prepare(store, WEEK, TZ, as_of=version, scorecards=scorecards)[1]
    assert got[True].scorecards is not None and got[False].scorecards is None
    assert got[False].agents.equals(got[True].agents)
    # the week with them serves a report without them; not the other way round
    assert kept["computed"] == (1 if first == "with scorecards" else 2)


@pytest.mark.slow
def test_a_run_split_across_kernels_maps_the_week_this_process_computed(
    store, tmp_path, monkeypatch
):
    """``report all``: while the kernels start, this process computes the week they share;
    the reports and the digest ask for that same week (one folder of it, none of their own)."""
    weeks: dict[str, list[str]] = {}

    def listing(folder: str) -> list[str]:
        return sorted(p.name for p in Path(folder).iterdir() if p.is_dir())

    share, close = report_module.share_week, KernelPool.close

    def sharing(run, shared):  # type: ignore[no-untyped-def]
        share(run, shared)
        weeks["computed here"] = listing(shared)

    def closing(pool: KernelPool) -> None:
        if pool.shared is not None:
            weeks["at the end"] = listing(pool.shared)
        close(pool)

    monkeypatch.setattr(report_module, "share_week", sharing)
    monkeypatch.setattr(KernelPool, "close", closing)
    run = plan(
        ["csat-sla", "agent-performance"], [store], WEEK, TZ, tmp_path / "out", formats=["html"]
    )
    [written] = _within(HANG_S, lambda: render_runs([run], kernels=2))
    assert len(weeks["computed here"]) == 1
    assert weeks["at the end"] == weeks["computed here"]
    assert set(written) == {"csat-sla", "agent-performance"}
    assert (run.target / "email" / "digest.json").is_file()
    # and this process keeps nothing of it
    assert not report_module._KEPT.on and not report_module._KEPT.weeks
    assert not report_module._KEPT.loads


def test_a_week_computed_ahead_is_the_one_a_report_asks_for_and_nothing_is_kept(
    kept, store, tmp_path
):
    keep_prepared(False)
    run = plan(["csat-sla"], [store], WEEK, TZ, tmp_path / "out", queues=["Billing"])
    report_module.share_week(run, tmp_path)
    assert kept["computed"] == 1
    assert not report_module._KEPT.on and not report_module._KEPT.weeks
    # a kernel's first report, with the values the notebook passes, maps it
    keep_prepared(True, shared=tmp_path)
    _, metrics = prepare(
        list(run.files),
        WEEK,
        TZ,
        queues=["Billing"],
        channels=[],
        min_volume=20,
        frt_target_s=60,
        as_of=run.parameters["as_of"],
    )
    assert kept["computed"] == 1 and metrics.params["queues"] == ["Billing"]


def test_a_week_that_cannot_be_computed_ahead_is_left_to_the_reports(kept, tmp_path):
    keep_prepared(True)  # a library user's own setting, which stays as it was
    empty = tmp_path / "pages"
    empty.mkdir()
    (empty / "page.json").write_text('{"cxLogs": {"data": []}}')
    run = report_module.ReportRun(
        (), (str(empty / "page.json"),), WEEK, TZ, {}, tmp_path / "out", ("html",)
    )
    report_module.share_week(run, tmp_path)  # no error here: the reports say it
    assert [p for p in tmp_path.iterdir() if p.is_dir() and p != empty] == []
    with pytest.MonkeyPatch.context() as patch:  # any error at all, not only cxreports' own
        patch.setattr(report_module, "prepare", lambda *a, **k: 1 / 0)
        report_module.share_week(run, tmp_path)
    assert report_module._KEPT.on and report_module._KEPT.shared is None
    with pytest.raises(EmptyDataError):  # what the report's notebook meets and shows
        prepare(str(empty / "page.json"), WEEK, TZ)


# ---- kernels forked from one process of shared imports (cxreports/zygote.py) ----------------


def test_only_a_plain_ipykernel_spec_is_forked_and_with_its_own_interpreter_flags():
    from cxreports.kernels import fork_prefix

    tail = ["-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert fork_prefix(["/v/bin/python", "-Xfrozen_modules=off", *tail]) == [
        "/v/bin/python",
        "-Xfrozen_modules=off",
    ]
    assert fork_prefix(["python3", *tail]) == ["python3"]
    assert fork_prefix(["conda", "run", "-n", "x", "python", *tail]) is None  # a wrapper
    assert fork_prefix(["python", "-m", "ipykernel", "-f", "{connection_file}"]) is None
    assert fork_prefix(["R", "--slave", "-e", "IRkernel::main()", "--args", "{f}"]) is None
    assert fork_prefix([*tail]) is None


def _kernel_facts(kernel: WarmKernel, out: Path) -> dict[str, Any]:
    """What a kernel process says of itself: where it runs, with what, and whose child it is."""
    kernel.run_code(
        "import json, os, sys, tempfile, polars\n"
        f"json.dump({{'pid': os.getpid(), 'ppid': os.getppid(), 'cwd': os.getcwd(),"
        f" 'path0': sys.path[0], 'argv0': sys.argv[0], 'sid': os.getsid(0),"
        f" 'threads_env': os.environ.get('POLARS_MAX_THREADS'),"
        f" 'polars_threads': polars.thread_pool_size(),"
        f" 'parent_env': os.environ.get('JPY_PARENT_PID'), 'tmp': tempfile.gettempdir(),"
        f" 'path': sys.path}},"
        f" open({str(out)!r}, 'w'))\n"
    )
    return json.loads(out.read_text())


@pytest.mark.slow
def test_a_pools_kernels_are_forked_from_one_process_and_start_as_started_ones(
    tmp_path, monkeypatch
):
    import time

    monkeypatch.delenv("POLARS_MAX_THREADS", raising=False)  # so the pool gives each its share
    extra = tmp_path / "extra"
    extra.mkdir()
    paths = [str(extra), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    before = _kernel_traces()
    with KernelPool(2) as pool:
        # started by a thread that ends a second later: the zygote (and so every kernel)
        # outlives it, as it must outlive a pool thread done with its kernel while another
        # still runs a report
        starter = threading.Thread(target=lambda: (pool._forker(), time.sleep(1)))
        starter.start()
        starter.join()
        names = iter(range(2))
        # each task holds its kernel until both have answered: one per kernel
        barrier = threading.Barrier(2, timeout=HANG_S)

        def facts(kernel: WarmKernel) -> dict[str, Any]:
            found = _kernel_facts(kernel, tmp_path / f"k{next(names)}.json")
            barrier.wait()
            return found

        found = _within(HANG_S, lambda: [f.result() for f in [pool.submit(facts) for _ in "ab"]])
        zygote = psutil.Process(found[0]["ppid"])
        assert "zygote.py" in " ".join(zygote.cmdline())
        assert zygote.ppid() == os.getpid()
        assert os.getsid(zygote.pid) == zygote.pid  # the terminal's Ctrl-C is not for it
    share = str(max(1, (os.cpu_count() or 1) // 2))
    fresh_tmp = subprocess.check_output(
        [sys.executable, "-c", "import tempfile; print(tempfile.gettempdir())"], text=True
    ).strip()
    # what `python -m` puts in sys.path (`-c` puts "" first, `-m` the folder)
    fresh_path = json.loads(
        subprocess.check_output(
            [sys.executable, "-c", "import json, sys; print(json.dumps(sys.path[1:]))"], text=True
        )
    )
    for kernel in found:
        assert kernel["ppid"] == zygote.pid  # both forked from it, each a session of its own
        assert kernel["sid"] == kernel["pid"]
        # the pool's environment for it, read when its own polars started (not the zygote's)
        assert kernel["threads_env"] == share and kernel["polars_threads"] == int(share)
        assert kernel["parent_env"] == str(zygote.pid)
        assert kernel["cwd"] == os.getcwd() == kernel["path0"]  # as `-m ipykernel_launcher`
        # PYTHONPATH kept ("" is IPython's, in every kernel)
        assert [p for p in kernel["path"][1:] if p] == fresh_path and str(extra) in fresh_path
        assert kernel["argv0"].endswith("ipykernel_launcher.py")
        assert kernel["tmp"] == fresh_tmp  # found from its environment, as at a start
    assert found[0]["pid"] != found[1]["pid"]
    assert not zygote.is_running() or zygote.status() == psutil.STATUS_ZOMBIE
    assert _left_since(before) == (set(), [])


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["killed", "stuck"])
def test_kernels_start_as_usual_when_their_zygote_is_gone_or_stuck(tmp_path, fault):
    import signal
    import time

    before = _kernel_traces()
    with KernelPool(2, start_timeout=15) as pool:
        zygote = pool._forker()
        assert zygote is not None
        if fault == "killed":
            zygote.process.kill()
            zygote.process.wait()
        else:  # it does not answer within a kernel's start time (and the grace for a fork)
            os.kill(zygote.process.pid, signal.SIGSTOP)
        started = time.monotonic()
        found = _within(
            HANG_S,
            lambda: pool.submit(lambda k: _kernel_facts(k, tmp_path / "k.json")).result(),
        )
        if fault == "stuck":
            assert time.monotonic() - started >= 15
            # going on, it refuses the request it was too late for: no second kernel on the
            # same sockets as the one started instead
            os.kill(zygote.process.pid, signal.SIGCONT)
            import select

            # its answer to that request comes now (the pool no longer reads it)
            assert select.select([zygote.channel], [], [], 60)[0]
            assert b"asked too late" in zygote.channel.recv(4096, socket.MSG_PEEK)
            assert zygote.process.poll() is None
            assert psutil.Process(zygote.process.pid).children() == []
            assert zygote.failed  # and it is asked no more
    assert found["ppid"] == os.getpid()  # started by this process, as without a zygote
    assert _left_since(before) == (set(), [])


def test_a_zygote_that_cannot_fork_one_kernel_is_asked_again_for_the_next():
    from cxreports.kernels import _forkable, _Zygote

    prefix = _forkable("python3")
    if prefix is None:
        pytest.skip("this machine's python3 kernel is not one a zygote forks")
    zygote = _Zygote(prefix, 60)
    try:
        zygote.timeout = -1  # a request it gets past its deadline: it refuses it
        with pytest.raises(OSError, match="forked no kernel: asked too late"):
            zygote.fork(["--version"], dict(os.environ), None)
        assert not zygote.failed and zygote.process.poll() is None  # kept, with its kernels
        zygote.timeout = 60
        forked = zygote.fork(["--version"], dict(os.environ), None)  # prints it and ends
        assert forked.wait(timeout=30) == -1 and forked.poll() == -1
    finally:
        zygote.close()
    assert zygote.process.poll() is not None


_OWNER = """
import json, threading, time
from cxreports.kernels import KernelPool
pool = KernelPool(2)
both = threading.Barrier(2)
def pid(kernel):
    both.wait()  # one task a kernel
    return kernel.km.provisioner.pid
pids = [future.result() for future in [pool.submit(pid), pool.submit(pid)]]
print(json.dumps({"kernels": pids, "zygote": pool._forker().process.pid}), flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_kernels_and_their_zygote_end_when_the_pools_process_is_killed():
    import signal
    import time

    owner = subprocess.Popen([sys.executable, "-c", _OWNER], stdout=subprocess.PIPE, text=True)
    try:
        line = _within(HANG_S, owner.stdout.readline)  # type: ignore[union-attr]
        pids = json.loads(line)
        processes = [psutil.Process(pid) for pid in [pids["zygote"], *pids["kernels"]]]
        assert all(p.is_running() for p in processes)
    finally:
        owner.send_signal(signal.SIGKILL)  # kill -9: no clean-up of its own runs
        owner.wait()
    deadline = time.monotonic() + 30
    while any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in processes):
        assert time.monotonic() < deadline, "a kernel or its zygote outlived the pool's process"
        time.sleep(0.1)


def _frozen_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernel spec as `ipykernel install` writes it in some plain venvs (no
    -Xfrozen_modules=off), in an environment without PYDEVD_DISABLE_FILE_VALIDATION."""
    spec = tmp_path / "jupyter" / "kernels" / "frozen"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "frozen", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.delenv("PYDEVD_DISABLE_FILE_VALIDATION", raising=False)
    return "frozen"


@pytest.mark.slow
@pytest.mark.parametrize("size", [1, 2])
def test_kernels_of_a_spec_with_frozen_modules_start_without_a_debugger_warning(
    tmp_path, monkeypatch, capfd, size
):
    # debugpy printed a four-line "Debugger warning" to stderr for every report run (size 2:
    # as the zygote the kernels are forked from imports it)
    _frozen_spec(tmp_path, monkeypatch)
    with KernelPool(size, kernel_name="frozen") as pool:
        futures = [pool.submit(lambda kernel: kernel.run_code("1")) for _ in range(size)]
        _within(HANG_S, lambda: [f.result() for f in futures])
    assert "Debugger warning" not in capfd.readouterr().err


@pytest.mark.slow
def test_a_notebook_run_without_a_pool_starts_its_kernel_as_a_pool_does(
    tmp_path, monkeypatch, capfd
):
    # execute_notebook with no warm kernel has papermill start one: it printed debugpy's
    # warning as the pool's kernels once did
    kernel_name = _frozen_spec(tmp_path, monkeypatch)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("render_mode = 'interactive'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import os\nos.environ.get('PYDEVD_DISABLE_FILE_VALIDATION')"),
    ]
    source = tmp_path / "env.ipynb"
    nbformat.write(nb, source)
    out = execute_notebook(source, {}, tmp_path / "out.ipynb", kernel_name=kernel_name)
    cells = nbformat.read(out, as_version=4).cells
    assert cells[-1].outputs[0]["data"]["text/plain"] == "'1'"
    assert "Debugger warning" not in capfd.readouterr().err
