"""What a report notebook calls first: check its parameters, load the data, compute the week."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

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
