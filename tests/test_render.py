"""Tests for cxreports.render: atomic writes, the offline HTML template, and real papermill runs."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from pypdf import PdfReader

from cxreports.exceptions import OutputError, ReportError
from cxreports.iorw import atomic_path, ensure_dir, write_atomic
from cxreports.render import (
    EXPORTERS,
    execute_notebook,
    failed_path,
    for_reading,
    render_report,
    to_html,
    to_pdf,
)

FIXTURE = Path(__file__).parent / "data" / "render_fixture.ipynb"
SECRET = "SECRET-MARKER-7f3a"

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20" viewBox="0 0 40 20">'
    '<rect width="40" height="20" fill="steelblue"/><text x="2" y="14">svg-label</text></svg>'
)
REMOTE_HTML = (
    '<script src="https://cdn.example.org/vega.js"></script>'
    '<script>console.log("inline")</script>'
    '<link rel="stylesheet" href="https://fonts.example.org/plex.css">'
    '<style>@import url("https://fonts.googleapis.com/css2?family=IBM+Plex+Mono");'
    " .kept { color: red; }</style>"
    '<p class="kept">html-output-kept</p>'
)
# Network references that must not survive into a report: a script or image source, a link,
# a CSS url() or @import.
NETWORK = re.compile(
    r"""(?:\b(?:src|href)\s*=\s*["']?\s*https?://|url\(\s*["']?\s*https?://|@import\s+["']https?://)""",
    re.IGNORECASE,
)


def _network_refs(html: str) -> list[str]:
    return NETWORK.findall(html)


# --- atomic_path and file names ---------------------------------------------------------------


def test_atomic_path_replaces_target_with_mode_644(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".")
        tmp.write_text("new")
        assert target.read_text() == "old"
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_atomic_path_keeps_target_and_removes_temp_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "report.pdf"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="half written"), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("half written")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]


def _writing(target: Path) -> subprocess.Popen:
    """A process half-way through writing ``target`` (its temporary file made), then asleep."""
    code = (
        "import sys, time\n"
        "from cxreports.iorw import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_text('partial')\n"
        "    print(tmp, flush=True)\n"
        "    time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert Path(process.stdout.readline().strip()).is_file()
    return process


def test_a_write_killed_half_way_leaves_nothing_once_the_file_is_written_again(tmp_path: Path):
    target = tmp_path / "agent-performance.html"
    killed, alive = _writing(target), _writing(target)
    try:
        killed.kill()  # kill -9: no clean-up runs in it
        killed.wait()
        assert len(list(tmp_path.glob(".agent-performance.*"))) == 2
        (tmp_path / "other.html").write_text("not ours")
        with atomic_path(target) as tmp:
            tmp.write_text("whole")
        assert target.read_text() == "whole"
        # the dead writer's temporary file is gone; a live writer's is its own business
        left = sorted(p.name for p in tmp_path.iterdir())
        assert left == sorted(
            ["agent-performance.html", "other.html", *(p.name for p in tmp_path.glob(".a*"))]
        )
        assert len(list(tmp_path.glob(".agent-performance.*"))) == 1
        assert str(alive.pid) in next(tmp_path.glob(".agent-performance.*")).name
    finally:
        alive.kill()
        alive.wait()


def test_a_full_disk_is_one_error_and_leaves_the_old_file(tmp_path: Path, full_disk) -> None:
    target = tmp_path / "report.pdf"
    target.write_text("old")
    full_disk(".report.*")
    with pytest.raises(OutputError, match=r"report.pdf: no space left on the device") as info:
        write_atomic(target, b"x" * 100_000)
    assert info.value.exit_code == 11
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]


def test_a_full_disk_under_a_rust_writer_is_one_error_too(tmp_path: Path, full_disk) -> None:
    import polars as pl

    full_disk(".part.*")
    target = tmp_path / "part.parquet"
    with pytest.raises(OutputError, match="no space left"), atomic_path(target) as tmp:
        pl.DataFrame({"a": [1]}).write_parquet(tmp)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("read_only", "not writable"),
        ("file", "a file is in the way where a folder is needed"),
        ("under_file", "a file is in the way where a folder is needed"),
        ("link_loop", "a symbolic link that leads nowhere"),
        ("dangling_link", "a symbolic link that leads nowhere"),
    ],
)
def test_an_output_folder_that_cannot_be_written_is_one_error(
    tmp_path: Path, read_only_dir: Path, make: str, message: str
) -> None:
    folder = {
        "read_only": read_only_dir,
        "file": tmp_path / "a-file",
        "under_file": tmp_path / "a-file" / "out",
        "link_loop": tmp_path / "loop",
        "dangling_link": tmp_path / "dangling",
    }[make]
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    for attempt in (lambda: write_atomic(folder / "r.html", b"x"), lambda: ensure_dir(folder)):
        with pytest.raises(OutputError, match=message) as info:
            attempt()
        assert str(folder) in str(info.value)
    assert list(read_only_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("output", "failed"),
    [
        ("out/agents.ipynb", "out/agents.failed.ipynb"),
        ("agents-2026-W12.ipynb", "agents-2026-W12.failed.ipynb"),
        ("out/csat.v2.ipynb", "out/csat.v2.failed.ipynb"),
    ],
)
def test_failed_path(output: str, failed: str) -> None:
    assert failed_path(output) == Path(failed)


# --- HTML from a hand-made executed notebook (no kernel) ---------------------------------------


@pytest.fixture
def executed_nb(tmp_path: Path) -> Path:
    """An 'executed' notebook whose outputs cover what the template must keep or drop."""
    cells = [
        new_markdown_cell("# Weekly heading"),
        new_code_cell(
            "secret_source_line = 1",
            outputs=[
                new_output("display_data", data={"image/svg+xml": SVG, "text/plain": "<Chart>"}),
                new_output("display_data", data={"text/html": REMOTE_HTML}),
                new_output("stream", name="stderr", text="stderr-noise\n"),
                new_output("stream", name="stdout", text="stdout-kept\n"),
                new_output("display_data", data={"application/javascript": "alert('js')"}),
            ],
        ),
        new_code_cell(
            "print('x')",
            metadata={"tags": ["remove-cell"]},
            outputs=[new_output("stream", name="stdout", text="removed-cell-output\n")],
        ),
        new_code_cell(
            "print('y')",
            metadata={"tags": ["remove-output"]},
            outputs=[new_output("stream", name="stdout", text="removed-output\n")],
        ),
    ]
    path = tmp_path / "executed.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    return path


@pytest.fixture
def offline_html(executed_nb: Path) -> str:
    return to_html(
        executed_nb, executed_nb.with_suffix(".html"), title='Week "12" <CX>'
    ).read_text()


@pytest.mark.parametrize(
    "kept",
    [
        "Weekly heading",
        "<svg",
        "svg-label",
        "html-output-kept",
        ".kept { color: red; }",
        "stdout-kept",
        '<title>Week "12" &lt;CX&gt;</title>',
        r'content: "Week \22 12\22  \3c CX\3e ";',
        'page " counter(page) " of " counter(pages)',
    ],
)
def test_html_keeps(offline_html: str, kept: str) -> None:
    assert kept in offline_html


@pytest.mark.parametrize(
    "dropped",
    [
        "secret_source_line",
        "stderr-noise",
        "removed-cell-output",
        "removed-output",
        "alert('js')",
        "console.log",
        "<script",
        "In&nbsp;[",
        "Out[",
        "require.js",
        "mathjax",
        "jupyter-widgets",
    ],
)
def test_html_drops(offline_html: str, dropped: str) -> None:
    assert dropped.lower() not in offline_html.lower()


def test_html_loads_nothing_from_the_network(offline_html: str) -> None:
    assert _network_refs(offline_html) == []


def test_for_reading_does_not_modify_its_input(executed_nb: Path) -> None:
    nb = nbformat.read(executed_nb, as_version=4)
    before = nbformat.writes(nb)
    cleaned = for_reading(nb, "T")
    assert nbformat.writes(nb) == before
    assert cleaned.metadata["title"] == "T"
    assert all(o.get("name") != "stderr" for c in cleaned.cells for o in c.get("outputs", []))


# --- errors that need no kernel ---------------------------------------------------------------


def test_unknown_format_fails_before_running(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"unknown report format\(s\) 'docx'; expected .*'pdf'"):
        render_report(FIXTURE, {}, tmp_path, "r", formats=("html", "docx"))
    assert list(tmp_path.iterdir()) == []


def test_missing_notebook(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no such notebook"):
        execute_notebook(tmp_path / "nope.ipynb", {}, tmp_path / "out.ipynb")


def test_missing_html(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no such HTML report"):
        to_pdf(tmp_path / "nope.html", tmp_path / "out.pdf")
    assert list(tmp_path.iterdir()) == []


def test_unknown_kernel(tmp_path: Path) -> None:
    out = tmp_path / "out.ipynb"
    with pytest.raises(ReportError, match="no Jupyter kernel named 'no-such-kernel'"):
        execute_notebook(FIXTURE, {}, out, kernel_name="no-such-kernel")
    assert list(tmp_path.iterdir()) == []


def test_exporters() -> None:
    assert list(EXPORTERS) == ["html", "pdf"]


# --- end to end: real papermill runs ----------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One real render of the fixture, shared; a stale failed notebook is there beforehand."""
    out = tmp_path_factory.mktemp("rendered")
    (out / "fixture.failed.ipynb").write_text("{}")
    return render_report(
        FIXTURE,
        {"secret_marker": SECRET, "title": "Fixture week"},
        out,
        "fixture",
        title="CX fixture, 2026-W12",
    )


@pytest.mark.slow
def test_render_writes_every_format(rendered: dict[str, Path]) -> None:
    assert list(rendered) == ["ipynb", "html", "pdf"]
    out = rendered["ipynb"].parent
    assert sorted(p.name for p in out.iterdir()) == [
        "fixture.html",
        "fixture.ipynb",
        "fixture.pdf",
    ]
    for path in rendered.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.slow
def test_render_runs_notebook_in_static_mode(rendered: dict[str, Path]) -> None:
    nb = nbformat.read(rendered["ipynb"], as_version=4)
    assert nb.metadata.papermill.parameters["render_mode"] == "static"
    mimes = {m for c in nb.cells for o in c.get("outputs", []) for m in o.get("data", {})}
    assert "image/svg+xml" in mimes
    assert not any(m.startswith("application/vnd.vegalite") for m in mimes)


@pytest.mark.slow
def test_render_html(rendered: dict[str, Path]) -> None:
    html = rendered["html"].read_text()
    assert "<svg" in html
    assert "Calls per queue" in html and "Tech support" in html  # the great_tables table
    assert "Render fixture report" in html
    assert "<title>CX fixture, 2026-W12</title>" in html
    assert "<script" not in html
    assert _network_refs(html) == []
    for source_line in ("use_renderer(render_mode)", "if fail:", SECRET):
        assert source_line not in html
    assert "only belongs in logs" not in html
    assert "tagged remove-cell" not in html


@pytest.mark.slow
def test_render_pdf(rendered: dict[str, Path]) -> None:
    reader = PdfReader(rendered["pdf"])
    assert len(reader.pages) >= 1
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Render fixture report" in text
    assert "CX fixture, 2026-W12" in text
    assert f"page 1 of {len(reader.pages)}" in text
    # The chart is vector: its labels are text and no raster image is embedded.
    assert "Tech support" in text and "calls" in text
    xobjects = reader.pages[0]["/Resources"].get("/XObject", {})
    assert all(xobjects[k].get_object()["/Subtype"] != "/Image" for k in xobjects)


@pytest.mark.slow
def test_failed_render_leaves_only_the_failed_notebook(
    rendered: dict[str, Path], tmp_path: Path
) -> None:
    for fmt, path in rendered.items():
        (tmp_path / f"fixture.{fmt}").write_bytes(path.read_bytes())

    with pytest.raises(ReportError) as info:
        render_report(FIXTURE, {"fail": True}, tmp_path, "fixture")

    message = str(info.value)
    assert "render_fixture.ipynb: cell 11 (`if fail:`) failed: ValueError: boom" in message
    assert "fixture.failed.ipynb" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fixture.failed.ipynb"]
    failed = nbformat.read(tmp_path / "fixture.failed.ipynb", as_version=4)
    errors = [o for c in failed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert [(e.ename, e.evalue) for e in errors] == [("ValueError", "boom")]


@pytest.mark.slow
@pytest.mark.parametrize("full", [".fixture.*.tmp.ipynb", ".fixture.*.tmp.pdf"])
def test_a_full_disk_leaves_nothing_that_looks_finished(
    rendered: dict[str, Path], tmp_path: Path, full_disk, full: str
) -> None:
    for fmt, path in rendered.items():
        (tmp_path / f"fixture.{fmt}").write_bytes(path.read_bytes())
    full_disk(full)
    with pytest.raises(OutputError, match=r"fixture\.(ipynb|pdf): no space left on the device"):
        render_report(FIXTURE, {"secret_marker": SECRET}, tmp_path, "fixture")
    # no report, old or new, and no hidden temporary file
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_cell_timeout(tmp_path: Path) -> None:
    nb = nbformat.read(FIXTURE, as_version=4)
    nb.cells.insert(2, new_code_cell("import time\n\ntime.sleep(60)"))
    slow = tmp_path / "slow.ipynb"
    nbformat.write(nb, slow)

    with pytest.raises(ReportError, match=r"cell 3 \(`import time`\) ran longer than 1 s"):
        execute_notebook(slow, {}, tmp_path / "out" / "slow.ipynb", execution_timeout=1)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["slow.failed.ipynb"]


def test_the_kernel_runs_in_the_notebook_folder_and_the_caller_stays_put(tmp_path: Path) -> None:
    # reports render side by side in threads of one process: running a notebook must not
    # change that process's working directory, even for a moment
    folder = tmp_path / "notebooks"
    folder.mkdir()
    cells = [
        new_code_cell("render_mode = 'interactive'", metadata={"tags": ["parameters"]}),
        new_code_cell("import os, time\n\ntime.sleep(1)\nprint(os.getcwd())"),
    ]
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(new_notebook(cells=cells, metadata=kernel), folder / "where.ipynb")
    before, seen = os.getcwd(), set()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(execute_notebook, folder / "where.ipynb", {}, tmp_path / "out.ipynb")
        while not running.done():
            seen.add(os.getcwd())
            time.sleep(0.01)
        executed = nbformat.read(running.result(), as_version=4)
    assert seen == {before}
    assert executed.cells[-1].outputs[0].text.strip() == str(folder)


def test_every_chart_prints_as_an_image_of_its_own_svg() -> None:
    import base64
    import re

    from cxreports.render import _svg_as_images

    chart = '<svg width="10" height="10"><text>Handle time</text></svg>'
    page = (
        f'<div class="jp-RenderedSVG jp-OutputArea-output">\n{chart}\n</div>'
        f'<div class="cx-scorecard-charts"><div class="cx-scorecard-chart">{chart}</div></div>'
        '<p>an <svg width="1" height="1"></svg> icon in the text stays</p>'
    )
    printed = _svg_as_images(page)
    images = re.findall(r'<img src="data:image/svg\+xml;base64,([^"]+)">', printed)
    assert len(images) == 2  # the notebook's chart and the scorecard's
    for data in images:
        assert base64.b64decode(data).decode() == chart.replace(
            "<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1
        )
    assert printed.count("<svg") == 1 and "icon in the text stays" in printed


@pytest.mark.slow
def test_the_html_exporter_is_made_once_and_writes_each_report_as_a_new_one_would(
    rendered: dict[str, Path], tmp_path: Path
) -> None:
    from cxreports import render

    render.to_html(rendered["ipynb"], tmp_path / "first.html", title="First, 2026-W12")
    render.to_html(rendered["ipynb"], tmp_path / "second.html", title="Second <b>")
    assert render._html_exporter() is render._html_exporter()
    render._html_exporter.cache_clear()
    render.to_html(rendered["ipynb"], tmp_path / "new.html", title="Second <b>")
    second, new = ((tmp_path / n).read_text() for n in ("second.html", "new.html"))
    # nothing of the first report stays in the exporter: the second is as a new one writes it
    assert second == new
    assert "First, 2026-W12" not in second and "<title>Second &lt;b&gt;</title>" in second


@pytest.mark.slow
def test_pdfs_printed_one_after_another_are_those_a_new_process_prints(
    rendered: dict[str, Path], tmp_path: Path
) -> None:
    from cxreports import render

    render.to_pdf(rendered["html"], tmp_path / "first.pdf")
    render.to_pdf(rendered["html"], tmp_path / "second.pdf")
    render._fonts.cache_clear()  # as in a new process: fonts looked up again
    render.to_pdf(rendered["html"], tmp_path / "new.pdf")
    new = (tmp_path / "new.pdf").read_bytes()
    assert (tmp_path / "second.pdf").read_bytes() == new == (tmp_path / "first.pdf").read_bytes()


def test_chart_text_prints_as_one_run_where_its_letters_would_be(tmp_path: Path) -> None:
    from pypdf.generic import ContentStream

    from cxreports.render import to_pdf

    font = 'font-size="12" font-family="sans-serif"'
    svg = (
        '<svg width="400" height="80">'
        f'<text x="10" y="20" {font}>Handle time</text>'
        # letters placed or spaced one by one stay drawn one by one
        f'<text x="10" y="40" {font} letter-spacing="0">Handle time</text>'
        f'<text x="10,30" y="60" {font}>AB</text>'
        f'<text x="200" y="60" {font} text-anchor="end">Wait time</text>'
        "</svg>"
    )
    html = tmp_path / "chart.html"
    html.write_text(f'<div class="jp-RenderedSVG jp-OutputArea-output">{svg}</div>')
    to_pdf(html, tmp_path / "chart.pdf")
    reader = PdfReader(tmp_path / "chart.pdf")
    page = reader.pages[0]
    blocks: list[list[float]] = []  # the x of each text drawn, by BT ... ET block
    for operands, operator in ContentStream(page["/Contents"].get_object(), reader).operations:
        if operator == b"BT":
            blocks.append([])
        elif operator == b"Tm":
            blocks[-1].append(float(operands[4]))
    whole, letters, placed = blocks[:3]
    assert len(whole) == 1 and len(letters) >= 10 and len(placed) == 2
    assert whole[0] == pytest.approx(letters[0])  # starts where its first letter did
    assert placed[1] - placed[0] == pytest.approx(20)  # where its x list puts them
    text = page.extract_text()
    assert text.count("Handle time") == 2 and "Wait time" in text


@pytest.mark.slow
def test_the_html_is_what_nbconvert_writes_less_its_reparse(rendered: dict[str, Path]) -> None:
    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter

    from cxreports import render

    nb = render.for_reading(nbformat.read(rendered["ipynb"], as_version=4), "Agents")
    nb.cells.append(
        new_code_cell(
            "", outputs=[new_output("display_data", {"text/html": '<img src="a.png"><b>x</b>'})]
        )
    )
    ours = render._html_exporter()
    stock = HTMLExporter(config=ours.config, **{k: getattr(ours, k) for k in render._EXPORTER})
    for preprocessor in ours._preprocessors:
        stock.register_preprocessor(preprocessor)
    stock.register_filter("css_string", render._css_string)
    resources = {"metadata": {"name": "Agents", "path": str(rendered["ipynb"].parent)}}
    body, _ = ours.from_notebook_node(nb, resources=dict(resources))
    expected, _ = stock.from_notebook_node(nb, resources=dict(resources))
    assert body.count('tabindex="0"') >= 3 and 'alt="No description' in body
    assert "viewBox=" in body  # SVG's attribute as SVG spells it
    # the same page as nbconvert's, once parsed and written by the same parser
    assert str(BeautifulSoup(body, features="html.parser")) == expected


_OUT = '<div class="jp-OutputArea-output"'


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (f"{_OUT}>", f'{_OUT} tabindex="0">'),
        ('<div class="a jp-Cell-inputWrapper">', '<div class="a jp-Cell-inputWrapper" tabindex="0">'),  # noqa: E501
        ('<div class="jp-OutputArea-output-x">', '<div class="jp-OutputArea-output-x">'),
        (f'{_OUT} tabindex="1">', f'{_OUT} tabindex="1">'),
        ('<img src="a.png" alt="A">', '<img src="a.png" alt="A">'),
        ('<image href="a.png"/>', '<image href="a.png"/>'),
    ],
)  # fmt: skip
def test_only_outputs_inputs_and_images_without_alt_text_are_given_them(page, expected):
    from cxreports.render import _accessible

    assert _accessible(page) == expected


# ---- WeasyPrint's import: libraries found without the C compiler -----------------------------

_LOADED_LIBRARIES = """
import subprocess, sys
ran = []
real = subprocess.Popen.__init__
def spy(self, args, *a, **k):
    ran.append(args[0] if isinstance(args, (list, tuple)) else args)
    real(self, args, *a, **k)
subprocess.Popen.__init__ = spy
import ctypes.util
before = ctypes.util.find_library
if sys.argv[1] == "ours":
    from cxreports import startup
    startup.import_weasyprint()
else:
    import weasyprint
import weasyprint.text.ffi
libraries = sorted(
    line.split()[-1].rsplit("/", 1)[-1]
    for line in open("/proc/self/maps")
    if any(n in line for n in ("gobject", "pango", "harfbuzz", "fontconfig"))
)
print(sorted(set(libraries)))
print(sorted(set(p.rsplit("/", 1)[-1] for p in ran)))
print(ctypes.util.find_library is before)
"""


_IMPORTED_SIDE_BY_SIDE = """
import ctypes.util, sys, threading
from cxreports import startup
before = ctypes.util.find_library
startup._linker_cache()  # listed already: the threads meet in the import itself
meet = threading.Barrier(2, timeout=1)
class Meeting:  # the import of weasyprint waits until a second thread is in it too, if one can be
    def find_spec(self, name, path=None, target=None):
        if name == "weasyprint":
            try:
                meet.wait()
            except threading.BrokenBarrierError:
                pass
        return None
sys.meta_path.insert(0, Meeting())
threads = [threading.Thread(target=startup.import_weasyprint) for _ in range(2)]
for t in threads: t.start()
for t in threads: t.join()
import weasyprint
print(ctypes.util.find_library is before, hasattr(weasyprint, "HTML"))
"""


def test_weasyprint_imported_by_several_threads_at_once_leaves_ctypes_as_it_was() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTED_SIDE_BY_SIDE], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["True", "True"]


def test_weasyprint_loads_the_same_libraries_without_running_the_compiler() -> None:
    def loaded(way: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", _LOADED_LIBRARIES, way],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.splitlines()

    ours, plain = loaded("ours"), loaded("plain")
    assert "libpango-1.0.so.0" in ours[0]
    assert ours[0] == plain[0]
    assert "gcc" in plain[1]  # what the plain import runs (ctypes' search) ...
    assert ours[1] == "['ldconfig']"  # ... and what ours runs: one listing of the cache
    assert ours[2] == "True"  # ctypes' own lookup is back afterwards


_LISTING = """\
4 libs found in cache `/etc/ld.so.cache'
\tlibpango-1.0.so.0 (libc6) => /usr/lib/i386-linux-gnu/libpango-1.0.so.0
\tlibpango-1.0.so.0 (libc6,x86-64) => /lib/x86_64-linux-gnu/libpango-1.0.so.0
\tlibfoo+bar.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libfoo+bar.so.1
\tlibonly32.so.2 (libc6) => /usr/lib/i386-linux-gnu/libonly32.so.2
"""


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the listing is an x86-64 one")
@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("pango-1.0", "libpango-1.0.so.0"),
        ("libpango-1.0-0", None),  # a Windows name: not searched further
        ("pango", None),
        ("foo+bar", "libfoo+bar.so.1"),  # the name is text, not a pattern
        ("foo.bar", None),
        ("only32", None),  # a 32-bit library does not load in a 64-bit process
    ],
)
def test_a_library_is_looked_up_in_the_linker_listing(name: str, found: str | None) -> None:
    from cxreports import startup

    assert startup._in_listing(_LISTING, name) == found
