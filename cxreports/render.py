"""Report notebooks -> executed notebooks -> self-contained HTML -> PDF.

papermill runs a parameterized notebook (always with ``render_mode="static"``, so charts come out
as SVG), nbconvert turns the executed notebook into one HTML file that loads nothing from the
network (the ``cxreport`` template in ``templates/``), and WeasyPrint prints that HTML to an A4
PDF. Every file is written atomically, so a file that exists under its final name is complete.
"""

from __future__ import annotations

import base64
import copy
import functools
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from cxreports import kernels, startup
from cxreports.exceptions import ReportError
from cxreports.iorw import atomic_path, ensure_dir
from cxreports.kernels import WarmKernel

if TYPE_CHECKING:
    from nbconvert import HTMLExporter
    from weasyprint.text.fonts import FontConfiguration

#: Folder of the nbconvert templates shipped with the package.
TEMPLATES = Path(__file__).parent / "templates"

#: The nbconvert template every report uses (``templates/cxreport``).
TEMPLATE_NAME = "cxreport"

#: Cell tags honoured in the HTML: drop the whole cell, only its outputs, or only its code.
REMOVE_CELL_TAGS = frozenset({"remove-cell"})
REMOVE_OUTPUT_TAGS = frozenset({"remove-output"})
REMOVE_INPUT_TAGS = frozenset({"remove-input"})

#: Writes one output format. Arguments: the files written so far by format (always
#: ``"ipynb"``, the executed notebook, and every earlier format), the target path, the title.
Exporter = Callable[[Mapping[str, Path], Path, str], Path]

_INJECTED_TAG = "injected-parameters"
_PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"
# a chart's SVG: a notebook output's, or one a table's HTML holds (an agent's scorecard)
_CHART_SVG = re.compile(
    r'(<div class="(?:jp-RenderedSVG|cx-scorecard-chart)[^>]*>\s*)(<svg\b.*?</svg>)',
    re.IGNORECASE | re.DOTALL,
)
_SCRIPT = re.compile(r"<script\b.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_REMOTE_IMPORT = re.compile(r"@import\s+(url\()?\s*['\"]?https?://[^;]*;", re.IGNORECASE)
_REMOTE_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*['\"]?https?://[^>]*>", re.IGNORECASE)


#: How long a cell's output may take to arrive after the cell finished. nbclient's 4 s, which
#: papermill makes an error, was passed on a loaded machine by a cell drawing charts: the
#: weekly job failed at render, "ran longer than 600 s" after 38.
IOPUB_TIMEOUT_S = 60


def failed_path(output_ipynb: str | Path) -> Path:
    """Where a notebook that failed to run is kept: ``<name>.failed.ipynb`` next to the output."""
    output_ipynb = Path(output_ipynb)
    return output_ipynb.with_name(f"{output_ipynb.stem}.failed.ipynb")


def execute_notebook(
    notebook: str | Path,
    parameters: Mapping[str, Any],
    output_ipynb: str | Path,
    *,
    kernel_name: str = "python3",
    start_timeout: int = 60,
    execution_timeout: int = 600,
    kernel: WarmKernel | None = None,
) -> Path:
    """Run a report notebook with papermill and write the executed notebook.

    The notebook runs in its own folder, with ``parameters`` injected after its cell tagged
    ``parameters`` and ``render_mode="static"`` always added (notebooks default to
    ``"interactive"``). On failure the executed notebook, tracebacks included, is kept as
    ``<name>.failed.ipynb`` (see :func:`failed_path`); a success removes an old one.

    Parameters
    ----------
    notebook
        The ``.ipynb`` to run.
    parameters
        Values for the notebook's parameters cell.
    output_ipynb
        Where the executed notebook goes; written atomically.
    kernel_name
        The Jupyter kernel to run it in.
    start_timeout
        Seconds to wait for the kernel to start.
    execution_timeout
        Seconds any one cell may run.
    kernel
        A warm kernel of a :class:`~cxreports.kernels.KernelPool` to run in (cleared first);
        by default a new kernel is started for this notebook and stopped after it.

    Returns
    -------
    Path
        ``output_ipynb``.

    Raises
    ------
    ReportError
        A cell raised, a cell ran too long, or the kernel could not start or died. The message
        names the notebook, the cell (counted from 1, as in the file, markdown cells included)
        and its first line, and the error.

    Examples
    --------
    >>> execute_notebook(  # doctest: +SKIP
    ...     "notebooks/agent_performance.ipynb", {"week": "2026-W12"}, "outputs/agents.ipynb"
    ... )
    PosixPath('outputs/agents.ipynb')
    """
    # imported here: the kernels, which import this module to write the HTML and PDF, run
    # no notebooks and need none of papermill
    import papermill
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    import cxreports.warm_engine  # noqa: F401  (registers the warm-kernel engine)

    notebook, output_ipynb = Path(notebook), Path(output_ipynb)
    if not notebook.is_file():
        raise ReportError(f"{notebook}: no such notebook; expected the path of an .ipynb file")
    failed = failed_path(output_ipynb)
    folder = str(notebook.parent.absolute())
    try:
        with atomic_path(output_ipynb) as tmp:
            engine: dict[str, Any] = {"kernel_manager_class": kernels.one_off_manager()}
            if kernel is not None:
                # saved once at the end, not twice a cell (or as far as it ran, on failure)
                engine = {"engine_name": kernels.ENGINE, "warm": kernel, "folder": folder}
                engine.update(request_save_on_cell_execute=False, keep_at=str(tmp))
            try:
                papermill.execute_notebook(
                    str(notebook),
                    str(tmp),
                    parameters={**parameters, "render_mode": "static"},
                    kernel_name=kernel_name,
                    # a notebook saved without kernel metadata still takes Python parameters
                    language="python",
                    start_timeout=start_timeout,
                    execution_timeout=execution_timeout,
                    iopub_timeout=IOPUB_TIMEOUT_S,
                    progress_bar=False,
                    log_output=False,
                    # the kernel starts in the notebook's folder; papermill's own `cwd` would
                    # change this process's directory, which reports rendering side by side
                    # in threads share
                    resources={"metadata": {"path": folder}},
                    extra_arguments=list(kernels.KERNEL_ARGUMENTS),
                    **engine,
                )
            except (PapermillExecutionError, CellTimeoutError, DeadKernelError):
                _keep_failed(tmp, failed)
                raise
    except PapermillExecutionError as exc:
        raise ReportError(
            f"{notebook.name}: {_describe_cell(failed, exc.cell_index)} failed: {exc.ename}: "
            f"{exc.evalue}. The executed notebook, with the traceback, is kept in {failed}."
        ) from exc
    except CellTimeoutError as exc:
        if "IOPub" in str(exc):  # the cell finished; its output did not all arrive in time
            raise ReportError(
                f"{notebook.name}: the output of {_describe_cell(failed)} did not arrive within "
                f"{IOPUB_TIMEOUT_S} s of the cell finishing (a machine short of CPU?); the "
                f"notebook as far as it ran is kept in {failed}."
            ) from exc
        raise ReportError(
            f"{notebook.name}: {_describe_cell(failed)} ran longer than {execution_timeout} s and "
            f"was stopped. Raise execution_timeout or make the cell faster; the notebook as far "
            f"as it ran is kept in {failed}."
        ) from exc
    except DeadKernelError as exc:
        raise ReportError(
            f"{notebook.name}: the {kernel_name!r} kernel died in {_describe_cell(failed)} "
            f"(out of memory?): {exc}. The notebook as far as it ran is kept in {failed}."
        ) from exc
    except NoSuchKernel as exc:
        raise ReportError(
            f"{notebook.name}: no Jupyter kernel named {kernel_name!r}. Install it with "
            f"`.venv/bin/python -m ipykernel install --sys-prefix --name {kernel_name}` "
            f"(./dev.sh setup does this)."
        ) from exc
    except RuntimeError as exc:
        # jupyter_client reports a kernel that never answered as a bare RuntimeError.
        raise ReportError(
            f"{notebook.name}: the {kernel_name!r} kernel did not start within "
            f"{start_timeout} s: {exc}. Check that `jupyter kernelspec list` shows it and that "
            f"it starts by hand, or raise start_timeout."
        ) from exc
    failed.unlink(missing_ok=True)
    return output_ipynb


def to_html(executed_ipynb: str | Path, html_path: str | Path, *, title: str) -> Path:
    """Convert an executed notebook into one self-contained HTML report.

    Code, prompts, stderr output and cells tagged ``remove-cell`` are left out (``remove-output``
    drops a cell's outputs, ``remove-input`` its code). Scripts and network imports found in
    HTML outputs are removed, so the file shows the same offline, in a mail client or printed.

    Parameters
    ----------
    executed_ipynb
        A notebook executed by :func:`execute_notebook`.
    html_path
        Where the HTML goes; written atomically.
    title
        The report title: the page ``<title>`` and the running header of printed pages.

    Returns
    -------
    Path
        ``html_path``.

    Examples
    --------
    >>> to_html(  # doctest: +SKIP
    ...     "outputs/agents.ipynb", "outputs/agents.html", title="Agents, 2026-W12"
    ... )
    PosixPath('outputs/agents.html')
    """
    executed_ipynb, html_path = Path(executed_ipynb), Path(html_path)
    try:
        nb = nbformat.read(executed_ipynb, as_version=4)
    except (OSError, ValueError) as exc:
        raise ReportError(
            f"{executed_ipynb}: cannot read the executed notebook ({exc}); run it first with "
            f"execute_notebook"
        ) from exc
    nb = for_reading(nb, title)
    source_dir = Path(nb.metadata.get("papermill", {}).get("input_path") or executed_ipynb).parent
    body, _ = _html_exporter().from_notebook_node(
        nb, resources={"metadata": {"name": title, "path": str(source_dir)}}
    )
    with atomic_path(html_path) as tmp:
        tmp.write_text(body, encoding="utf-8")
    return html_path


def to_pdf(html_path: str | Path, pdf_path: str | Path) -> Path:
    """Print an HTML report to an A4 PDF with WeasyPrint; charts stay vector graphics.

    Only local files and ``data:`` URLs are read: a report that still points at the network
    gets those resources left out instead of waiting on them.

    Parameters
    ----------
    html_path
        A report written by :func:`to_html`.
    pdf_path
        Where the PDF goes; written atomically.

    Returns
    -------
    Path
        ``pdf_path``.

    Examples
    --------
    >>> to_pdf("outputs/agents.html", "outputs/agents.pdf")  # doctest: +SKIP
    PosixPath('outputs/agents.pdf')
    """
    html_path, pdf_path = Path(html_path), Path(pdf_path)
    if not html_path.is_file():
        raise ReportError(f"{html_path}: no such HTML report; write it first with to_html")
    # imported here: a process that runs notebooks in kernels (which write the PDFs) never needs it
    startup.import_weasyprint()
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    _draw_svg_text_whole()
    with atomic_path(pdf_path) as tmp:
        fetcher = URLFetcher(allowed_protocols={"file", "data"})
        page = _svg_as_images(html_path.read_text(encoding="utf-8"))
        HTML(string=page, base_url=str(html_path), url_fetcher=fetcher).write_pdf(
            tmp, font_config=_fonts()
        )
    return pdf_path


@functools.cache
def _fonts() -> FontConfiguration:
    """One font configuration a process: the system's fonts are looked up once, for every PDF."""
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


class _TextRun(str):
    """An SVG text that WeasyPrint's text drawing takes as one letter (see below)."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield str(self)


#: SVG text attributes that place or space letters one by one.
_PER_LETTER = frozenset({"dx", "dy", "rotate", "textLength", "letter-spacing"})
#: ``x`` or ``y`` with a list of positions, one a letter.
_SEVERAL = re.compile(r"[\s,]")


@functools.cache
def _draw_svg_text_whole() -> None:
    """Make WeasyPrint draw an SVG ``<text>`` as one run of glyphs where it can.

    WeasyPrint lays out and draws every letter of SVG text on its own (a Pango layout each),
    which SVG needs only when letters are placed one by one (lists of ``x``/``y``, ``dx``,
    ``dy``, ``rotate``, ``letter-spacing``, ``textLength``). Chart text has none of these:
    drawn as one run it gives the same text at the same place (Pango's shaping adds kerning),
    a fifth less time for a report's PDF. Texts that do place letters are drawn as before,
    and so is everything if WeasyPrint's SVG code is not laid out as this expects.
    """
    import sys

    import weasyprint.svg as svg

    module = sys.modules.get("weasyprint.svg.text")
    original = getattr(module, "text", None)
    if original is None or getattr(svg, "text", None) is not original or "text" not in svg.TAGS:
        return

    def text(drawing: Any, node: Any, font_size: float) -> None:
        element, attrib = node._etree_node, node.attrib
        raw = element.text
        whole = (
            raw
            and len(raw) > 1
            and _PER_LETTER.isdisjoint(attrib)
            and not _SEVERAL.search(attrib.get("x", "").strip())
            and not _SEVERAL.search(attrib.get("y", "").strip())
        )
        if not whole:
            return original(drawing, node, font_size)
        element.text = _TextRun(raw)
        try:
            return original(drawing, node, font_size)
        finally:
            element.text = raw

    # draw_node also compares tags' drawing functions with the module's ``text``
    svg.text = text
    for tag, draw in list(svg.TAGS.items()):
        if draw is original:
            svg.TAGS[tag] = text


def _svg_as_images(page: str) -> str:
    """The page with each chart's inline ``<svg>`` as an ``<img>`` of the same SVG.

    WeasyPrint draws both alike (vector, text as text, same size: the SVG's own width and
    height), but an inline SVG's thousands of elements also go through the HTML parser and
    the CSS cascade first: as images, a report prints about a fifth faster.
    """

    def image(match: re.Match[str]) -> str:
        svg = match.group(2)
        if "xmlns=" not in svg[: svg.find(">")]:
            svg = svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
        data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
        return f'{match.group(1)}<img src="data:image/svg+xml;base64,{data}">'

    return _CHART_SVG.sub(image, page)


def _export_html(files: Mapping[str, Path], target: Path, title: str) -> Path:
    return to_html(files["ipynb"], target, title=title)


def _export_pdf(files: Mapping[str, Path], target: Path, title: str) -> Path:
    if "html" in files:
        return to_pdf(files["html"], target)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.stem}.") as tmp:
        html = to_html(files["ipynb"], Path(tmp) / f"{target.stem}.html", title=title)
        return to_pdf(html, target)


#: Output formats by name, in the order :func:`render_report` writes them.
EXPORTERS: dict[str, Exporter] = {"html": _export_html, "pdf": _export_pdf}


def render_report(
    notebook: str | Path,
    parameters: Mapping[str, Any],
    out_dir: str | Path,
    name: str,
    formats: Sequence[str] = ("html", "pdf"),
    title: str | None = None,
    timings: dict[str, float] | None = None,
    kernel: WarmKernel | None = None,
    **execute_options: Any,
) -> dict[str, Path]:
    """Run a report notebook and write ``<name>.ipynb`` plus one file per format.

    Old ``<name>.*`` outputs are removed before the run, so after a failure nothing that looks
    finished is left: only ``<name>.failed.ipynb``, the notebook as far as it ran (a format
    that cannot be written removes the files of the formats before it, too).

    Parameters
    ----------
    notebook
        The report notebook.
    parameters
        Values for its parameters cell (``render_mode`` is always ``"static"``).
    out_dir
        Folder for the outputs; created if missing.
    name
        File name stem of the outputs.
    formats
        Keys of :data:`EXPORTERS`.
    title
        Report title for the HTML ``<title>`` and the PDF page header; ``name`` by default.
    timings
        If given, seconds are added to it under ``kernel`` (start and papermill overhead),
        ``cells`` (running the notebook's code) and each format.
    kernel
        A warm kernel to run in, which then writes the formats too (see
        :mod:`cxreports.kernels`); by default a kernel of its own, and this process writes them.
    **execute_options
        Passed on to :func:`execute_notebook` (``kernel_name``, ``start_timeout``,
        ``execution_timeout``).

    Returns
    -------
    dict[str, Path]
        The files written, by format, ``"ipynb"`` first.

    Examples
    --------
    >>> render_report(  # doctest: +SKIP
    ...     "notebooks/agent_performance.ipynb", {"week": "2026-W12"}, "outputs", "agents-2026-W12"
    ... )
    {'ipynb': PosixPath('outputs/agents-2026-W12.ipynb'), 'html': ..., 'pdf': ...}
    """
    unknown = [f for f in formats if f not in EXPORTERS]
    if unknown:
        raise ReportError(
            f"unknown report format(s) {', '.join(map(repr, unknown))}; expected some of "
            f"{', '.join(map(repr, EXPORTERS))}"
        )
    out_dir = ensure_dir(out_dir)
    executed = out_dir / f"{name}.ipynb"
    for stale in (executed, *(out_dir / f"{name}.{fmt}" for fmt in EXPORTERS)):
        stale.unlink(missing_ok=True)
    spent = timings if timings is not None else {}
    start = time.perf_counter()
    files = {
        "ipynb": execute_notebook(notebook, parameters, executed, kernel=kernel, **execute_options)
    }
    cells = sum(
        float(cell.metadata.get("papermill", {}).get("duration") or 0)
        for cell in nbformat.read(executed, as_version=4).cells
    )
    _add(spent, "cells", cells)
    _add(spent, "kernel", time.perf_counter() - start - cells)
    try:
        if kernel is None:
            # one export at a time: WeasyPrint and the shared HTML exporter are not known to
            # be thread-safe, and both hold the GIL anyway
            with _EXPORT_LOCK:
                return export(files, out_dir, name, formats, title or name, spent)
        # the kernel writes them: its exporters are warm, and this process stays free
        done = kernel.call(
            "export",
            files={k: str(v) for k, v in files.items()},
            out_dir=str(out_dir.absolute()),
            name=name,
            formats=list(formats),
            title=title or name,
        )
    except BaseException:
        executed.unlink(missing_ok=True)
        raise
    for stage, seconds in done["timings"].items():
        _add(spent, stage, seconds)
    return {k: Path(v) for k, v in done["files"].items()}


def export(
    files: Mapping[str, Path],
    out_dir: Path,
    name: str,
    formats: Sequence[str],
    title: str,
    timings: dict[str, float] | None = None,
) -> dict[str, Path]:
    """Write ``out_dir/<name>.<format>`` for each of ``formats`` from an executed notebook.

    ``files`` holds ``"ipynb"``, the executed notebook. Returns it with the files written; if
    any format cannot be written, the ones before it are removed (an HTML without its PDF is
    not a finished report either) and the error is raised.
    """
    written = dict(files)
    try:
        for fmt, exporter in EXPORTERS.items():
            if fmt in formats:
                start = time.perf_counter()
                written[fmt] = exporter(written, out_dir / f"{name}.{fmt}", title)
                if timings is not None:
                    _add(timings, fmt, time.perf_counter() - start)
    except BaseException:
        for fmt, path in written.items():
            if fmt not in files:
                path.unlink(missing_ok=True)
        raise
    return written


_EXPORT_LOCK = threading.Lock()


def _add(timings: dict[str, float], key: str, seconds: float) -> None:
    timings[key] = timings.get(key, 0.0) + seconds


def for_reading(nb: nbformat.NotebookNode, title: str) -> nbformat.NotebookNode:
    """A copy of an executed notebook fit for a static report.

    Drops stderr output (warnings and logs belong in the run's log, not the report), removes
    ``<script>`` elements and network imports from HTML outputs (they would need the network
    or a live kernel), and records ``title`` in the notebook metadata for the template.
    """
    nb = copy.deepcopy(nb)
    nb.metadata["title"] = title
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = [
            _offline(out)
            for out in cell.outputs
            if not (out.output_type == "stream" and out.name == "stderr")
        ]
    return nb


def _offline(output: nbformat.NotebookNode) -> nbformat.NotebookNode:
    html = output.get("data", {}).get("text/html")
    if html is not None:
        html = "".join(html) if isinstance(html, list) else html
        for pattern in (_SCRIPT, _REMOTE_IMPORT, _REMOTE_LINK):
            html = pattern.sub("", html)
        output.data["text/html"] = html
    return output


#: The HTML exporter's settings.
_EXPORTER = {
    "template_name": TEMPLATE_NAME,
    "extra_template_basedirs": [str(TEMPLATES)],
    "exclude_input": True,
    "exclude_input_prompt": True,
    "exclude_output_prompt": True,
    "embed_images": True,
}


@functools.cache
def _html_exporter() -> HTMLExporter:
    """One exporter a process: it compiles its templates once, for every report after."""
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    exporter = _report_exporter()(
        # no code is shown: the lab template's syntax-highlighting stylesheet (~80 rules that
        # every element of every PDF page would be matched against) is left out
        config=Config({"CSSHTMLHeaderPreprocessor": {"enabled": False}}),
        **_EXPORTER,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(
            remove_cell_tags=set(REMOVE_CELL_TAGS),
            remove_all_outputs_tags=set(REMOVE_OUTPUT_TAGS),
            remove_input_tags=set(REMOVE_INPUT_TAGS),
        ),
        enabled=True,
    )
    exporter.register_filter("css_string", _css_string)
    return exporter


@functools.cache
def _report_exporter() -> type[HTMLExporter]:
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class ReportExporter(HTMLExporter):  # type: ignore[misc]
        """nbconvert's HTML exporter, less the step that parses the finished page again with
        BeautifulSoup to give images an alt text and outputs a ``tabindex`` (done here by
        :func:`_accessible` on the page's text). A report is mostly SVG: that parse took three
        fifths of the export, and it wrote SVG's ``viewBox`` as ``viewbox``."""

        def from_notebook_node(  # type: ignore[no-untyped-def]
            self, nb, resources=None, **kw
        ):
            # HTMLExporter.from_notebook_node's own steps, up to the parse
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            highlight_code = self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)
            )
            resources = self._init_resources(resources)
            filter_data_type = WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources
            )
            self.register_filter("highlight_code", highlight_code)
            self.register_filter("filter_data_type", filter_data_type)
            html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return _accessible(html), resources

    return ReportExporter


_FOCUSABLE = re.compile(
    r'(<div\b[^>]*?\bclass="(?:[^"]*\s)?(?:jp-OutputArea-output|jp-Cell-inputWrapper)'
    r'(?=[\s"])[^"]*"'
    r"(?![^>]*\btabindex=)[^>]*?)(\s*/?>)"
)
_IMAGE_WITHOUT_ALT = re.compile(r"(<img\b(?![^>]*\balt=)[^>]*?)(\s*/?>)", re.IGNORECASE)


def _accessible(html: str) -> str:
    """``html`` with what nbconvert's HTML exporter adds: a ``tabindex`` on every cell input
    and output (they scroll by keyboard), an alt text on images that lack one.

    Examples
    --------
    >>> _accessible('<div class="jp-OutputArea-output x"><img src="a.png"></div>')
    '<div class="jp-OutputArea-output x" tabindex="0"><img src="a.png" alt="No description \
has been provided for this image"></div>'
    """
    html = _FOCUSABLE.sub(r'\1 tabindex="0"\2', html)
    return _IMAGE_WITHOUT_ALT.sub(
        r'\1 alt="No description has been provided for this image"\2', html
    )


def _css_string(text: str) -> str:
    """Escape text for use inside a double-quoted CSS string."""
    return "".join(c if c.isprintable() and c not in '"\\<>' else f"\\{ord(c):x} " for c in text)


def _describe_cell(failed: Path, index: int | None = None) -> str:
    """'cell 7 (`kpis = ...`)': a cell of a failed run, counted as in the author's notebook.

    ``index`` counts the cells papermill ran (``PapermillExecutionError.cell_index``); without
    it the cell is the last one that started, the one a timeout or a dying kernel stopped.
    """
    try:
        cells = nbformat.read(failed, as_version=4).cells
    except (OSError, ValueError):
        return "a cell" if index is None else f"cell {index + 1}"
    # The error banners papermill adds to a failed notebook were not there when it counted.
    cells = [c for c in cells if _PAPERMILL_ERROR_TAG not in c.metadata.get("tags", [])]
    if index is None:
        started = [
            i for i, c in enumerate(cells) if c.metadata.get("papermill", {}).get("start_time")
        ]
        if not started:
            return "a cell"
        index = started[-1]
    # The author's notebook has no injected parameters cell.
    number = index + 1 - sum(_INJECTED_TAG in c.metadata.get("tags", []) for c in cells[:index])
    source = cells[index].source if index < len(cells) else ""
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    first = first if len(first) <= 60 else first[:57] + "..."
    return f"cell {number} (`{first}`)"


def _keep_failed(tmp: Path, failed: Path) -> None:
    """Move a partly executed notebook to ``failed``, if papermill got as far as writing it."""
    if tmp.is_file() and tmp.stat().st_size:
        tmp.chmod(0o644)
        os.replace(tmp, failed)
