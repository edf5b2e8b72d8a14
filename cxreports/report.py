"""What a report notebook calls first: check its parameters, load the data, compute the week."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from cxreports import store
from cxreports.exceptions import ParameterError
from cxreports.load import CxLogs, load, require_records
from cxreports.metrics import WeeklyMetrics, weekly
from cxreports.period import Week, zone

#: Report names (as used on the command line and in output file names) -> notebook file.
REPORTS = {
    "agent-performance": "agent_performance.ipynb",
    "csat-sla": "csat_sla.ipynb",
}

#: Human titles of the reports.
TITLES = {
    "agent-performance": "Agent performance",
    "csat-sla": "CSAT and SLA",
}


def _names(value: str | Sequence[str] | None, what: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if not all(isinstance(v, str) for v in value):
        raise ParameterError(f"{what} must be a list of names, got {value!r}")
    return list(value)


def prepare(
    source: str | Path | Sequence[str | Path],
    week: str | None,
    tz: str = "UTC",
    *,
    queues: str | Sequence[str] | None = None,
    channels: str | Sequence[str] | None = None,
    min_volume: int = 20,
    frt_target_s: float = 60.0,
    csat_score_field: str = "room.csat_score",
    trend_weeks: int = 8,
) -> tuple[CxLogs, WeeklyMetrics]:
    """Validate report parameters, load ``source`` and compute the week's metrics.

    Every bad parameter raises a :class:`ParameterError` with a one-line message (a notebook
    shows just that line), before any data is read.
    """
    zone(tz)
    wk = Week.resolve(week, tz)
    if not isinstance(min_volume, int) or min_volume < 1:
        raise ParameterError(f"min_volume must be a whole number >= 1, got {min_volume!r}")
    if not isinstance(frt_target_s, int | float) or frt_target_s <= 0:
        raise ParameterError(
            f"frt_target_s must be a positive number of seconds, got {frt_target_s!r}"
        )
    if not isinstance(trend_weeks, int) or not 1 <= trend_weeks <= 104:
        raise ParameterError(f"trend_weeks must be from 1 to 104, got {trend_weeks!r}")
    sources = [source] if isinstance(source, str | Path) else list(source)
    if not sources or any(str(s).strip() == "" for s in sources):
        raise ParameterError("source is empty: give a file, directory or glob of CX-log pages")
    if len(sources) == 1 and store.is_store(sources[0]):
        # the trend's first week up to a week past this one (first-contact resolution)
        start = wk.previous(trend_weeks - 1).start_utc
        logs = store.load_window(sources[0], start, wk.end_utc + timedelta(days=7))
    else:
        logs = require_records(load(*sources, csat_score_field=csat_score_field))
    metrics = weekly(
        logs,
        wk,
        tz,
        queues=_names(queues, "queues"),
        channels=_names(channels, "channels"),
        min_volume=min_volume,
        frt_target_s=float(frt_target_s),
        trend_weeks=trend_weeks,
    )
    return logs, metrics


#: The report notebooks; found beside the package in a checkout (``pip install -e .``).
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def render_reports(
    names: Sequence[str],
    sources: Sequence[str | Path],
    week: str | None,
    tz: str,
    out: str | Path,
    *,
    formats: Sequence[str] = ("html", "pdf"),
    notebooks: str | Path = NOTEBOOKS,
    timings: dict[str, float] | None = None,
    **parameters: object,
) -> dict[str, dict[str, Path]]:
    """Render report notebooks for one week into ``OUT/<week>/<report>.{ipynb,html,pdf}``.

    Once every report has rendered, the week's email digest is written to ``OUT/<week>/email/``
    (see :mod:`cxreports.digest`); a week without it is not sent.

    Parameters are checked here, before a kernel starts, so a typo costs a second, not a run.
    ``parameters`` are the notebooks' other parameters (queues, channels, min_volume,
    frt_target_s, csat_score_field). ``timings``, if given, collects seconds per stage, summed
    over the reports (which render side by side, so the sum exceeds the time taken).
    """
    from cxreports import digest
    from cxreports.load import resolve_sources
    from cxreports.render import EXPORTERS, render_report

    unknown = [n for n in names if n not in REPORTS]
    if unknown:
        raise ParameterError(f"unknown report {unknown[0]!r}: choose from {', '.join(REPORTS)}")
    bad = [f for f in formats if f not in EXPORTERS]
    if bad:
        raise ParameterError(f"unknown format {bad[0]!r}: choose from {', '.join(EXPORTERS)}")
    zone(tz)
    wk = Week.resolve(week, tz)
    # absolute, globs included: the notebook runs in its own folder, not in the caller's
    files = [str(Path(s).absolute()) for s in sources]
    resolve_sources(files)
    if len(files) == 1 and store.is_store(files[0]):
        store.verify(files[0])  # a damaged store fails here, not in every kernel
    folder = Path(notebooks)
    missing = [REPORTS[n] for n in names if not (folder / REPORTS[n]).is_file()]
    if missing:
        raise ParameterError(
            f"report notebook {missing[0]} not found in {folder}: run cxreports from a checkout "
            "installed with `pip install -e .`, or pass the notebooks folder"
        )
    target = Path(out).absolute() / wk.label
    # a digest from an earlier run must not outlive a failing one: sending looks for it
    (target / digest.FOLDER / "digest.json").unlink(missing_ok=True)
    spent: dict[str, dict[str, float]] = {name: {} for name in [*names, "email"]}

    def render(name: str) -> dict[str, Path]:
        return render_report(
            folder.absolute() / REPORTS[name],
            {"source": files, "week": wk.label, "tz": tz, **parameters},
            target,
            name,
            formats=tuple(formats),
            title=f"{TITLES[name]} · {wk.label}",
            timings=spent[name],
        )

    def build_digest() -> digest.EmailBody:
        start = time.perf_counter()
        _, metrics = prepare(files, wk.label, tz, **parameters)  # type: ignore[arg-type]
        built = digest.build(metrics)
        spent["email"]["email"] = time.perf_counter() - start
        return built

    # The reports' kernels run side by side (each in its own process), and the email digest is
    # built meanwhile; it is written only once every report has rendered.
    with ThreadPoolExecutor(max_workers=len(names) + 1) as pool:
        futures = {name: pool.submit(render, name) for name in names}
        built = pool.submit(build_digest)
        written = {name: future.result() for name, future in futures.items()}
        built_digest = built.result()
    digest.write(built_digest, target)
    if timings is not None:
        for stages in spent.values():
            for stage, seconds in stages.items():
                timings[stage] = timings.get(stage, 0.0) + seconds
    return written
