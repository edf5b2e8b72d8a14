"""An analyst's working folder: the report notebooks, ready to open, with defaults that read data
that exists.

``cxreports notebooks --out DIR`` copies every notebook of :data:`cxreports.report.NOTEBOOKS`
into ``DIR`` and rewrites the defaults in each one's cell tagged ``parameters``: without a source
it writes the sample data set and its store into ``DIR/data/`` and points the notebooks there
(relative, so the folder can move); with one, at that source. An analyst's edited copy is never
overwritten without ``force``.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from cxreports import schema as S
from cxreports import store
from cxreports.exceptions import OutputError, ParameterError
from cxreports.hours import BusinessHours
from cxreports.hours import read as read_hours
from cxreports.iorw import ensure_dir, write_atomic
from cxreports.load import resolve_sources
from cxreports.report import NOTEBOOKS, notebook_parameters
from cxreports.targets import from_parameters

#: The sample's report week and time zone: the defaults when the folder gets the sample data.
SAMPLE_WEEK = "2026-W13"
SAMPLE_TZ = "Asia/Singapore"
#: Where the sample goes inside the folder; the notebooks read the store.
SAMPLE_PAGES = Path("data") / "sample"
SAMPLE_STORE = Path("data") / "store"
#: What this command last wrote in a folder (file name -> SHA-256): a notebook that still
#: matches is the analyst's unedited copy and may be replaced without ``force``.
MANIFEST = ".cxreports-notebooks.json"


@dataclass(frozen=True)
class Workspace:
    """What :func:`write_notebooks` did."""

    folder: Path
    written: tuple[Path, ...]
    unchanged: tuple[Path, ...]
    #: The source the notebooks read, as a ``cxreports report`` argument from the caller's folder.
    source: str
    #: The defaults written into every parameters cell.
    parameters: dict[str, object] = field(default_factory=dict)
    #: Whether the sample data set was written (or brought up to date) in ``data/``.
    sample: bool = False
    #: The TOML file the business hours were read from, for :meth:`report_command`.
    business_hours_file: str | None = None

    def report_command(self) -> str:
        """The ``cxreports report`` command that renders the same figures as the notebooks."""
        p = self.parameters
        words = ["cxreports report all", shlex.quote(self.source)]
        if p["week"] is not None:
            words.append(f"--week {p['week']}")
        words.append(f"--tz {p['tz']}")
        for key, flag in (("queues", "--queues"), ("channels", "--channels")):
            if p[key]:
                words.append(f"{flag} {shlex.quote(','.join(p[key]))}")  # type: ignore[arg-type]
        if p["min_volume"] != 20:
            words.append(f"--min-volume {p['min_volume']}")
        if p["frt_target_s"] != 60:
            words.append(f"--frt-target {p['frt_target_s']}")
        if p["csat_score_field"] != S.DEFAULT_CSAT_SCORE_FIELD:
            words.append(f"--csat-score-field {p['csat_score_field']}")
        if p.get("as_of") is not None:
            words.append(f"--as-of {shlex.quote(str(p['as_of']))}")
        if p.get("team_map"):
            words.append(f"--team-map {shlex.quote(str(p['team_map']))}")
        if p.get("teams"):
            words.append(f"--teams {shlex.quote(','.join(p['teams']))}")  # type: ignore[arg-type]
        words += [f"--target {shlex.quote(t)}" for t in p.get("targets") or []]  # type: ignore[attr-defined]
        if self.business_hours_file:
            words.append(f"--business-hours {shlex.quote(self.business_hours_file)}")
        return " ".join(words)


def write_notebooks(
    out: str | Path,
    source: str | Path | None = None,
    week: str | None = None,
    tz: str | None = None,
    *,
    queues: Sequence[str] = (),
    channels: Sequence[str] = (),
    min_volume: int = 20,
    frt_target_s: float = 60,
    csat_score_field: str = S.DEFAULT_CSAT_SCORE_FIELD,
    as_of: int | str | None = None,
    team_map: str | Path | None = None,
    teams: Sequence[str] = (),
    targets: Sequence[object] = (),
    business_hours: str | Path | Mapping[str, object] | BusinessHours | None = None,
    force: bool = False,
    notebooks: str | Path = NOTEBOOKS,
) -> Workspace:
    """Copy the report notebooks into ``out`` with their parameter defaults set.

    Without ``source``, the sample data set is written to ``out/data/sample`` (unless there)
    and loaded into the store ``out/data/store``, which the notebooks then read, for the
    sample's week (2026-W13, Asia/Singapore) unless ``week`` or ``tz`` say otherwise. With
    ``source`` (pages or a store, which must exist), the notebooks read it by its absolute
    path, for ``week`` (default: the last complete week) in ``tz`` (default UTC), the same
    defaults as ``cxreports report``. ``as_of`` (with a store as ``source``), ``team_map``,
    ``teams``, ``targets`` and ``business_hours`` (its TOML file, or the hours) are those of
    ``cxreports report`` too.

    Every parameter is checked first. A notebook in ``out`` that differs both from the copy
    about to be written and from the one this function wrote there last (recorded in
    ``out/.cxreports-notebooks.json``), i.e. an analyst's edits or saved outputs, stops the
    call before anything is written, unless ``force``.

    Examples
    --------
    >>> import tempfile
    >>> ws = write_notebooks(tempfile.mkdtemp(), "tests/data/seed_page.json", "2026-W14")
    >>> sorted(p.name for p in ws.written)
    ['agent_performance.ipynb', 'agent_scorecards.ipynb', 'channel_review.ipynb', 'csat_sla.ipynb']
    >>> ws.report_command()
    'cxreports report all tests/data/seed_page.json --week 2026-W14 --tz UTC'
    """
    folder = Path(out)
    if isinstance(frt_target_s, float) and frt_target_s.is_integer():
        frt_target_s = int(frt_target_s)  # 60, as the notebooks write it, not 60.0
    sample = source is None
    if sample:
        week = SAMPLE_WEEK if week is None else week
        tz = SAMPLE_TZ if tz is None else tz
    tz = "UTC" if tz is None else tz
    hours_file = str(business_hours) if isinstance(business_hours, str | Path) else None
    if hours_file is not None:
        business_hours = read_hours(hours_file)
    _, model = notebook_parameters(
        week,
        tz,
        queues=list(queues),
        channels=list(channels),
        min_volume=min_volume,
        frt_target_s=frt_target_s,
        csat_score_field=csat_score_field,
        team_map=team_map,
        teams=list(teams),
        targets=list(targets),
        business_hours=business_hours,
    )
    as_of = None if as_of in (None, "") else as_of
    if source is not None:
        if not str(source).strip():
            raise ParameterError(
                "source is empty: give a file, directory or glob of pages, or a store"
            )
        if not (a_store := store.is_store(source)):
            resolve_sources([source])
        elif as_of is not None:
            store.verify(source, as_of)  # a version the store has, or a bad one stops here
        # the kernel runs in the notebook's folder: a relative path would mean another place
        source_value, shown = str(Path(source).absolute()), str(source)
    else:
        source_value, shown, a_store = SAMPLE_STORE.as_posix(), str(folder / SAMPLE_STORE), False
    if as_of is not None and not a_store:
        raise ParameterError(
            "as_of (--as-of) reads a store as it was: give the store as the source (--source)"
        )
    parameters: dict[str, object] = {
        "source": source_value,
        "week": week,
        "tz": tz,
        "queues": list(queues),
        "channels": list(channels),
        "frt_target_s": frt_target_s,
        "min_volume": min_volume,
        "csat_score_field": csat_score_field,
    }
    # the rest only when given: channel_review.ipynb, for one, takes no business hours
    if as_of is not None:
        parameters["as_of"] = int(as_of) if re.fullmatch(r"[0-9]+", str(as_of)) else as_of
    for key in ("team_map", "teams", "business_hours"):
        if key in model:
            parameters[key] = model[key]
    if "targets" in model:  # as written on the command line, which reads better than dicts
        parameters["targets"] = [t.text() for t in from_parameters(model["targets"])]  # type: ignore[arg-type]
    # absolute in the notebooks' header, as the source: the command is run in their folder
    hours_abs = None if hours_file is None else str(Path(hours_file).absolute())
    command = Workspace(folder, (), (), source_value, parameters, False, hours_abs)
    header = (
        "# Parameters (papermill replaces these values when it renders the report).\n"
        "# Set by `cxreports notebooks`; the same figures from the command line, in this folder:\n"
        f"#   {command.report_command()}\n"
    )
    copies = {
        folder / path.name: _with_defaults(path, header, parameters)
        for path in sorted(Path(notebooks).glob("*.ipynb"))
    }
    if not copies:
        raise ParameterError(f"no report notebooks found in {notebooks}: reinstall cxreports")
    unchanged = [path for path, text in copies.items() if _read(path) == text]
    ours = _written_before(folder)
    edited = [
        p
        for p in copies
        if p.exists() and p not in unchanged and ours.get(p.name) != _digest(_read(p))
    ]
    if edited and not force:
        which = (
            f"{edited[0]} and {len(edited) - 1} more notebook(s) already exist and differ"
            if len(edited) > 1
            else f"{edited[0]} already exists and differs"
        )
        raise OutputError(
            f"{which} from a fresh copy (edited, or run and saved); nothing was written. Keep "
            "your work and choose another --out, move it away, or pass --force to overwrite"
        )
    ensure_dir(folder)
    if sample:
        _sample_store(folder)
    written = []
    for path, text in copies.items():
        if path not in unchanged:
            write_atomic(path, text.encode())
            written.append(path)
        ours[path.name] = _digest(text)
    write_atomic(folder / MANIFEST, json.dumps(ours, indent=1, sort_keys=True).encode())
    return Workspace(
        folder, tuple(written), tuple(unchanged), shown, parameters, sample, hours_file
    )


def parameter_defaults(notebook: str | Path) -> dict[str, object]:
    """The literal defaults set in a notebook's cell tagged ``parameters``.

    Examples
    --------
    >>> parameter_defaults("notebooks/csat_sla.ipynb")["source"]
    '../data/store'
    """
    cell = _parameters_cell(nbformat.read(notebook, as_version=4), notebook)
    values = {}
    for node, name in _assignments(cell.source):
        try:
            values[name] = ast.literal_eval(node.value)
        except ValueError:
            continue
    return values


def set_defaults(code: str, values: Mapping[str, object]) -> str:
    """``code`` (a parameters cell) with the value of each ``name = ...`` in ``values`` replaced.

    Comments and order stay; a name the cell does not assign is added at its end.

    Examples
    --------
    >>> print(set_defaults('week = "2026-W13"  # ISO week\\nqueues = []', {"week": None}))
    week = None  # ISO week
    queues = []
    """
    lines = code.encode().splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    data = code.encode()
    found = set()
    # replaced from the end, so earlier offsets stay valid (ast columns count UTF-8 bytes)
    for node, name in sorted(_assignments(code), key=lambda a: -a[0].lineno):
        if name not in values:
            continue
        found.add(name)
        value = node.value
        begin = starts[value.lineno - 1] + value.col_offset
        end = starts[value.end_lineno - 1] + value.end_col_offset  # type: ignore[operator]
        data = data[:begin] + _literal(values[name]).encode() + data[end:]
    text = data.decode()
    missing = [name for name in values if name not in found]
    if missing:
        text = text.rstrip("\n") + "\n" + "".join(f"{n} = {_literal(values[n])}\n" for n in missing)
    return text


def _with_defaults(path: Path, header: str, parameters: Mapping[str, object]) -> str:
    """The notebook at ``path`` with ``header`` for its parameters cell's leading comment."""
    nb = nbformat.read(path, as_version=4)
    cell = _parameters_cell(nb, path)
    lines = cell.source.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    cell.source = header + set_defaults("".join(lines), parameters)
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def _parameters_cell(nb: nbformat.NotebookNode, where: object) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return cell
    raise ParameterError(f"{where}: no code cell tagged 'parameters'")


def _assignments(code: str) -> list[tuple[ast.Assign, str]]:
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise ParameterError(f"the parameters cell is not valid Python: {exc.msg}") from exc
    return [
        (node, node.targets[0].id)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
    ]


def _literal(value: object) -> str:
    """A Python literal for a parameter value, strings in double quotes as the notebooks write."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate from a file name: keep it escaped
            return json.dumps(value)
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _digest(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


def _written_before(folder: Path) -> dict[str, str]:
    try:
        recorded = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return (
        {k: v for k, v in recorded.items() if isinstance(v, str)}
        if isinstance(recorded, dict)
        else {}
    )


def _sample_store(folder: Path) -> None:
    """Write the sample pages (unless there) and bring the store up to date with them."""
    from cxreports.sample import generate

    pages, target = folder / SAMPLE_PAGES, folder / SAMPLE_STORE
    if not pages.exists():
        generate(pages)
    store.update([pages], target)
