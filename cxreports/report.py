"""What a report notebook calls first: check its parameters, load the data, compute the week."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import fcntl
import hashlib
import math
import os
import pickle
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import nbformat
import polars as pl
import pyarrow as pa

from cxreports import schema as S
from cxreports import scope, store
from cxreports.exceptions import ParameterError
from cxreports.hours import BusinessHours
from cxreports.hours import from_config as hours_from_config
from cxreports.iorw import ensure_dir, remove_dead
from cxreports.load import CxLogs, load, require_records
from cxreports.metrics import WeeklyMetrics, weekly
from cxreports.metrics.weekly import READS, TREND_WEEKS, fcr_frame, first_week
from cxreports.period import Week, zone
from cxreports.targets import BUSINESS_METRICS, Target, as_parameters, from_parameters
from cxreports.targets import by_group as targets_by_group
from cxreports.targets import evaluate as evaluate_targets
from cxreports.teams import UNASSIGNED, Teams
from cxreports.teams import read as read_teams

#: Report names (as used on the command line and in output file names) -> notebook file.
REPORTS = {
    "agent-performance": "agent_performance.ipynb",
    "csat-sla": "csat_sla.ipynb",
}
#: Reports rendered only when asked for (``--scorecards``, ``[report] scorecards = true``).
OPTIONAL = {"agent-scorecards": "agent_scorecards.ipynb"}

#: Human titles of the reports.
TITLES = {
    "agent-performance": "Agent performance",
    "csat-sla": "CSAT and SLA",
    "agent-scorecards": "Agent scorecards",
}


#: The largest thresholds taken; anything beyond them is a typo, not a setting.
MAX_MIN_VOLUME = 1_000_000
MAX_FRT_TARGET_S = 7 * 24 * 3600

#: The parameters a report notebook takes besides ``source``, ``week`` and ``tz``.
NOTEBOOK_PARAMETERS = (
    "queues",
    "channels",
    "min_volume",
    "frt_target_s",
    "csat_score_field",
    "as_of",
    "team_map",
    "teams",
    "targets",
    "business_hours",
)

#: One name of a dotted field path: letters, digits, ``_`` and ``-``.
_FIELD_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def described(value: object) -> str:
    """How an error names the value it got: a number as it is, anything else by its kind.

    Text is never repeated: a value given in the wrong place may be a password.

    Examples
    --------
    >>> described(0), described("hunter2"), described(["a"])
    ('0', 'text (7 characters)', 'a list')
    """
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        text = repr(value)
        return text if len(text) <= 24 else f"a number of {len(text)} digits"
    if isinstance(value, str):
        return f"text ({len(value)} characters)" if value else "empty text"
    kinds = {type(None): "nothing (None)", list: "a list", tuple: "a list", dict: "a table"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def threshold_problems(
    min_volume: object = 20,
    frt_target_s: object = 60.0,
    csat_score_field: object = S.DEFAULT_CSAT_SCORE_FIELD,
    trend_weeks: object = TREND_WEEKS,
) -> list[str]:
    """What is wrong with the report thresholds, one sentence each (empty when all are valid).

    Examples
    --------
    >>> threshold_problems(min_volume=0, frt_target_s=float("nan"))  # doctest: +ELLIPSIS
    ['min_volume must be a whole number from 1 to ..., got 0', 'frt_target_s must be ...']
    """
    problems = []
    if not _whole(min_volume, 1, MAX_MIN_VOLUME):
        problems.append(
            f"min_volume must be a whole number from 1 to {MAX_MIN_VOLUME:,} (agents below it "
            f"are shown but not ranked), got {described(min_volume)}"
        )
    if not _seconds(frt_target_s, MAX_FRT_TARGET_S):
        problems.append(
            f"frt_target_s must be a number of seconds above 0 and at most {MAX_FRT_TARGET_S:,} "
            f"(a week), got {described(frt_target_s)}"
        )
    if not _whole(trend_weeks, 1, 104):
        problems.append(f"trend_weeks must be from 1 to 104, got {described(trend_weeks)}")
    if field_problem := _csat_field_problem(csat_score_field):
        problems.append(field_problem)
    return problems


def _whole(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _seconds(value: object, high: float) -> bool:
    # an int is compared as it is: math.isfinite(10**400) would overflow
    number = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    return number and not isinstance(value, bool) and 0 < value <= high  # type: ignore[operator]


def _csat_field_problem(field: object) -> str | None:
    expected = (
        "csat_score_field must be a dotted path of field names (letters, digits, '_' or '-') "
        "such as 'room.csat_score'"
    )
    if not isinstance(field, str):
        return f"{expected}, got {described(field)}"
    parts = field.split(".")
    if len(parts) > 8 or not all(_FIELD_NAME.fullmatch(part) for part in parts):
        return f"{expected}, got text that is not one ({len(field)} characters)"
    try:
        S.record_schema(field)
    except ParameterError as exc:
        return str(exc)
    fields = dict(S.RAW_RECORD)
    for part in parts[:-1]:
        inner = fields.get(part)
        fields = dict(inner.to_schema()) if isinstance(inner, pl.Struct) else {}
    if parts[-1] in fields:
        return (
            f"csat_score_field {field!r} names a field cxreports already reads for something "
            "else; name the field that holds the CSAT score, such as 'room.csat_score'"
        )
    return None


def _names(value: str | Sequence[str] | None, what: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    expected = f"{what} must be a list of names (non-empty text) or one comma-separated text"
    if not isinstance(value, Sequence):
        raise ParameterError(f"{expected}, got {described(value)}")
    if bad := [v for v in value if not (isinstance(v, str) and v.strip())]:
        raise ParameterError(f"{expected}, got a list holding {described(bad[0])}")
    return list(value)


def _sources(source: str | Path | Sequence[str | Path]) -> list[str | Path]:
    sources = [source] if isinstance(source, str | Path) else list(source)
    if not sources or any(not isinstance(s, str | Path) or str(s).strip() == "" for s in sources):
        raise ParameterError(
            "source is empty: give a file, directory or glob of CX-log pages, or a store"
        )
    return sources


def check_parameters(
    week: str | Week | None,
    tz: str = "UTC",
    *,
    queues: str | Sequence[str] | None = None,
    channels: str | Sequence[str] | None = None,
    min_volume: int = 20,
    frt_target_s: float = 60.0,
    csat_score_field: str = S.DEFAULT_CSAT_SCORE_FIELD,
    trend_weeks: int = TREND_WEEKS,
) -> Week:
    """Check every report parameter before any data is read; the week they select.

    The command line, the weekly job and the notebooks all come through here (by
    :func:`prepare` and :func:`render_reports`), so a bad value stops with one
    :class:`ParameterError` naming every problem, before a kernel starts. A week still to
    come is refused: it has no data yet (the current week, not yet complete, is allowed).

    Examples
    --------
    >>> check_parameters("2026-W13", "UTC").label
    '2026-W13'
    >>> check_parameters("2026-W13", min_volume=0)
    Traceback (most recent call last):
    ...
    cxreports.exceptions.ParameterError: min_volume must be a whole number from 1 to ...
    """
    zone(tz)
    wk = Week.resolve(week, tz).require_started()
    problems = threshold_problems(min_volume, frt_target_s, csat_score_field, trend_weeks)
    for what, value in (("queues", queues), ("channels", channels)):
        try:
            _names(value, what)
        except ParameterError as exc:
            problems.append(str(exc))
    if problems:
        raise ParameterError("; ".join(problems))
    return wk


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
    trend_weeks: int = TREND_WEEKS,
    as_of: int | str | None = None,
    team_map: str | Path | Teams | None = None,
    teams: str | Sequence[str] | None = None,
    targets: Sequence[object] | None = None,
    business_hours: Mapping[str, object] | BusinessHours | None = None,
    scorecards: bool = False,
) -> tuple[CxLogs, WeeklyMetrics]:
    """Validate report parameters, load ``source`` and compute the week's metrics.

    Every bad parameter raises a :class:`ParameterError` with a one-line message (a notebook
    shows just that line), before any data is read. ``as_of`` reads a store as it was at that
    snapshot (a version of ``cxreports store history``, or a timestamp).

    ``team_map`` is a mapping of agents to teams (:mod:`cxreports.teams`), or the path of its
    CSV file: the metrics then hold a team roll-up (``m.teams``) and each agent's team.
    ``teams`` restricts every number to the agents of these teams (it needs ``team_map``).
    ``targets`` (:mod:`cxreports.targets`: texts such as ``"aht_s <= 600"``, or their dicts)
    adds each target's status this week (``m.targets``). ``business_hours`` (opening hours,
    :mod:`cxreports.hours`, in the config's form) adds first response and resolution in
    business time and the interactions started outside hours. ``scorecards`` adds every
    agent's scorecard (``m.scorecards``, the agent-scorecards report).

    From a store, the logs hold the interactions of the trend's weeks up to a week past this
    one (first-contact resolution looks ahead), and the child tables (labels, tags, wrap-up
    categories, custom fields, holds) from this week on; loaded from pages, everything.
    """
    wk = check_parameters(
        week,
        tz,
        queues=queues,
        channels=channels,
        min_volume=min_volume,
        frt_target_s=frt_target_s,
        csat_score_field=csat_score_field,
        trend_weeks=trend_weeks,
    )
    sources = _sources(source)
    queue_names, channel_names = _names(queues, "queues"), _names(channels, "channels")
    if team_map not in (None, "") and not isinstance(team_map, Teams):
        team_map = read_teams(team_map)  # type: ignore[arg-type]
    team_map = team_map or None
    team_names = _team_names(teams, team_map)  # type: ignore[arg-type]
    hours = _business_hours(business_hours)
    goals = _targets(targets, team_map, hours)
    from_store = len(sources) == 1 and store.is_store(sources[0])
    as_of = None if as_of in (None, "") else as_of
    if as_of is not None and not from_store:
        raise _as_of_without_a_store("as_of (--as-of)", sources)
    # from the first week the figures read up to a week past this one (first-contact
    # resolution looks a week ahead)
    start, end = first_week(wk, trend_weeks).start_utc, wk.end_utc + timedelta(days=7)
    load_key = _kept_key(sources, from_store, as_of, start, end, csat_score_field)

    def compute() -> tuple[CxLogs, WeeklyMetrics]:
        kept_load = _kept(_KEPT.loads, load_key)
        logs, with_fcr, shown = kept_load if kept_load is not None else (None, None, None)
        if logs is None:
            if from_store:
                # what the figures read (the child tables only from the report week on: the
                # trend needs none of them); the notebook's logs are the whole window, read
                # from the same snapshot if it uses them (once for every scope kept here)
                logs = store.load_window(
                    sources[0], start, end, as_of=as_of, children_from=wk.start_utc, only=READS
                )
                shown = store.read_when_used(logs, start, end, children_from=wk.start_utc)
            else:
                logs = shown = require_records(load(*sources, csat_score_field=csat_score_field))
            if load_key is not None:  # every scope of the load needs the same FCR columns
                with_fcr = fcr_frame(logs)
                _keep(_KEPT.loads, load_key, (logs, with_fcr, shown), 2)
        queues_in, channels_in, goals_in = queue_names, channel_names, goals
        scoped = any(g.queue is not None or g.channel is not None for g in goals)
        if queue_names or channel_names or (hours is not None and hours.queues) or scoped:
            known = (
                scope.known(sources, as_of=logs.extra["store_version"])
                if from_store
                else scope.Known.of(logs.interactions)
            )
            queues_in, channels_in = scope.resolve(queue_names, channel_names, known)
            goals_in = [_resolved_scope(g, known) for g in goals]
            if hours is not None:
                _check_hours_queues(hours, known)
        metrics = weekly(
            logs,
            wk,
            tz,
            queues=queues_in,
            channels=channels_in,
            min_volume=min_volume,
            frt_target_s=float(frt_target_s),
            trend_weeks=trend_weeks,
            with_fcr=with_fcr,
            team_map=team_map,
            teams=team_names,
            business_hours=hours,
            scorecards=scorecards,
        )
        return shown, _with_targets(metrics, goals_in)

    if load_key is None:
        return compute()
    # one name with or without the scorecards: a week that has them serves a report without
    # them (a run renders the scorecards first), in this kernel and in the shared folder
    week_key = (load_key, wk.label, tz, tuple(queue_names), tuple(channel_names))
    week_key += (min_volume, float(frt_target_s), trend_weeks)
    week_key += (None if team_map is None else tuple(team_map.members.rows()),)
    week_key += (tuple(team_names), tuple(goals), hours)

    def lacking(found: tuple[CxLogs, WeeklyMetrics] | None) -> bool:
        return found is None or (scorecards and found[1].scorecards is None)

    if lacking(kept := _kept(_KEPT.weeks, week_key)):
        with _shared_week(week_key) as shared:
            if lacking(kept := shared.read()):
                kept = compute()
                shared.write(*kept)  # (a week already there without them stays)
        _keep(_KEPT.weeks, week_key, kept, 8)
    logs, metrics = kept  # type: ignore[misc]
    if not scorecards and metrics.scorecards is not None:
        metrics = dataclasses.replace(metrics, scorecards=None)
    return _copied(logs, metrics)


def _with_targets(metrics: WeeklyMetrics, goals: list[Target]) -> WeeklyMetrics:
    """``metrics`` with each target's status: the week's, each team's and each ranked agent's."""
    if not goals:
        return metrics
    tables = {n: getattr(metrics, n) for n in ("summary", "queues", "channels", "teams")}
    metrics = dataclasses.replace(metrics, targets=evaluate_targets(goals, tables))
    if metrics.teams is not None and any(g.scope is None for g in goals):
        # each team against the whole week's targets, for the team table
        per_team = targets_by_group(goals, metrics.teams, "team")
        teams_with = metrics.teams.join(per_team, on="team", how="left", maintain_order="left")
        metrics = dataclasses.replace(metrics, teams=teams_with)
    if any(g.scope is None for g in goals):
        # each ranked agent too: below the minimum volume a status would be noise
        ranked = metrics.agents.filter("ranked")
        per_agent = targets_by_group(goals, ranked, "agent_id")
        agents_with = metrics.agents.join(
            per_agent, on="agent_id", how="left", nulls_equal=True, maintain_order="left"
        )
        metrics = dataclasses.replace(metrics, agents=agents_with)
    return metrics


def _copied(logs: CxLogs, metrics: WeeklyMetrics) -> tuple[CxLogs, WeeklyMetrics]:
    """Copies of kept results that a notebook may change at will (``df.columns = ...``, a
    dict's keys) without changing what the next report of the kernel is given. Frames are
    cloned, which shares their data and copies nothing of it."""
    if isinstance(logs, store.WindowLogs):  # (its tables, once read, go to every copy)
        return logs.copy(), _copy_fields(metrics)
    return _copy_fields(logs), _copy_fields(metrics)


def _copy_fields(obj):  # type: ignore[no-untyped-def]
    changes = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, pl.DataFrame):
            changes[f.name] = value.clone()
        elif isinstance(value, dict | list):
            changes[f.name] = copy.deepcopy(value)
    return dataclasses.replace(obj, **changes)


class _Kept:
    """What :func:`prepare` keeps between calls once :func:`keep_prepared` turned it on."""

    def __init__(self) -> None:
        self.on = False
        self.shared: Path | None = None
        self.loads: dict[tuple, tuple[CxLogs, pl.DataFrame, CxLogs]] = {}
        self.weeks: dict[tuple, tuple[CxLogs, WeeklyMetrics]] = {}


_KEPT = _Kept()


def keep_prepared(on: bool = True, shared: str | Path | None = None) -> None:
    """Keep loaded data and computed weeks in this process for later :func:`prepare` calls.

    For the kernels of a :class:`~cxreports.kernels.KernelPool`, which render many reports of
    one week: the second report of a group, and every group after the first, reads nothing
    again. Only what cannot change is kept: a store read at a pinned version (``as_of`` a
    version number, as ``render_reports`` passes it), or files by path, size and modification
    time. Turning it off forgets everything kept.

    ``shared`` is a private folder of the pool's kernels: a week that one kernel computes is
    written there, and another kernel that needs the same week waits for it and maps it
    instead of computing it too, on the same cores at the same time (the reports of one run
    rendered side by side).
    """
    _KEPT.on = on
    _KEPT.shared = Path(shared) if on and shared else None
    if not on:
        _KEPT.loads.clear()
        _KEPT.weeks.clear()


class _SharedWeek:
    """A week's logs and metrics in the pool's shared folder: the logs' tables as Arrow IPC
    files (mapped by the kernels that read them: no copy), everything else pickled (a private
    folder, written only by the pool's own kernels). Logs read from a store only when used
    (``store.read_when_used``) are pickled as what to read: no table is written."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def read(self) -> tuple[CxLogs, WeeklyMetrics] | None:
        if self.folder is None or not self.folder.is_dir():
            return None
        try:
            with open(self.folder / "rest.pickle", "rb") as f:
                fields, metrics = pickle.load(f)
            if isinstance(fields, CxLogs):
                return fields, metrics
            tables = {}
            for name in S.TABLES:
                with pa.memory_map(str(self.folder / f"{name}.arrow")) as source:
                    mapped = pa.ipc.open_file(source).read_all()
                tables[name] = pl.from_arrow(mapped, rechunk=False)
        except OSError:  # removed meanwhile (a cleaner of the temporary folder): computed again
            return None
        return CxLogs(**tables, **fields), metrics

    def write(self, logs: CxLogs, metrics: WeeklyMetrics) -> None:
        if self.folder is None or self.folder.is_dir():
            return
        tmp = self.folder.with_name(f"{self.folder.name}.tmp")
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            rest: CxLogs | dict[str, object] = logs
            if not isinstance(logs, store.WindowLogs):
                for name, table in logs.tables().items():
                    table.write_ipc(tmp / f"{name}.arrow", compression="uncompressed")
                rest = {f.name: getattr(logs, f.name) for f in dataclasses.fields(logs)}
                rest = {k: v for k, v in rest.items() if k not in S.TABLES}
            with open(tmp / "rest.pickle", "wb") as f:
                pickle.dump((rest, metrics), f, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.rename(self.folder)  # whole or not there: a kernel killed half-way leaves a .tmp
        except OSError:
            # a full temporary folder costs the speed-up only: the others compute the week
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _shared_week(key: tuple) -> Iterator[_SharedWeek]:
    """The shared slot of the week ``key``, held by this kernel alone: another kernel asking
    for the same week waits until this one has computed and written it (the lock goes with
    the process if it dies). Without a shared folder, a slot that holds nothing."""
    if _KEPT.shared is None:
        yield _SharedWeek(None)
        return
    name = hashlib.sha256(repr(key).encode("utf-8")).hexdigest()[:40]
    try:
        lock = open(_KEPT.shared / f"{name}.lock", "w")  # noqa: SIM115 (closed below)
    except OSError:  # the folder is gone or full: this kernel computes the week for itself
        yield _SharedWeek(None)
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield _SharedWeek(_KEPT.shared / name)


def _kept_key(
    sources: list[str | Path],
    from_store: bool,
    as_of: object,
    start: object,
    end: object,
    csat_score_field: str,
) -> tuple | None:
    if not _KEPT.on:
        return None
    if from_store:
        # a version number pins the snapshot; the newest or a timestamp may move
        if not (isinstance(as_of, int) and not isinstance(as_of, bool)):
            return None
        return ("store", str(sources[0]), as_of, start, end)
    from cxreports.load import resolve_sources

    stamps = []
    for path in resolve_sources(sources):
        st = path.stat()
        stamps.append((str(path), st.st_size, st.st_mtime_ns))
    return ("files", tuple(stamps), csat_score_field)


def _kept(kept: dict, key: tuple | None):  # type: ignore[no-untyped-def]
    if key is None or key not in kept:
        return None
    kept[key] = kept.pop(key)  # the most recently used last
    return kept[key]


def _keep(kept: dict, key: tuple | None, value: object, size: int) -> None:
    if key is None:
        return
    kept[key] = value
    while len(kept) > size:
        del kept[next(iter(kept))]


def _team_names(teams: str | Sequence[str] | None, team_map: Teams | None) -> list[str]:
    """The team filter, checked against the mapping: every name must be one of its teams
    (or ``Unassigned``), and a filter needs a mapping."""
    names = _names(teams, "teams")
    if not names:
        return []
    if team_map is None:
        raise ParameterError(
            "teams (--teams) filters by team and needs the teams mapping: give team_map "
            "(--team-map FILE, or [report] team_map in the weekly config)"
        )
    spelt = team_spellings(team_map)
    if unknown := [n for n in names if S.tame(n).casefold() not in spelt]:
        raise ParameterError(
            f"unknown team(s) {', '.join(map(repr, unknown))} in {team_map.origin}: "
            f"choose from {', '.join(map(repr, spelt.values()))}"
        )
    return list(dict.fromkeys(spelt[S.tame(n).casefold()] for n in names))


def team_spellings(team_map: Teams) -> dict[str, str]:
    """The mapping's teams (and ``Unassigned``) by the key a filter finds them by: case
    ignored, as for queues, and as reports show names."""
    return {S.tame(k).casefold(): k for k in [*team_map.names, UNASSIGNED]}


def _targets(
    values: Sequence[object] | None, team_map: Teams | None, hours: BusinessHours | None
) -> list[Target]:
    """The targets, checked; a target on a team needs the mapping and one of its teams, one
    on a business-time figure needs the business hours."""
    goals = []
    for goal in from_parameters(values):  # type: ignore[arg-type]
        if goal.team is not None:
            if team_map is None:
                raise ParameterError(
                    f"target {goal.text()}: a target on a team needs the teams mapping: give "
                    "team_map (--team-map FILE, or [report] team_map in the weekly config)"
                )
            goal = dataclasses.replace(goal, team=_team_names([goal.team], team_map)[0])
        goals.append(goal)
        if hours is None and goal.metric in BUSINESS_METRICS:
            raise ParameterError(
                f"target {goal.text()}: {goal.metric} is measured in business time and needs "
                "the business hours ([business_hours] in the config, or --business-hours FILE)"
            )
    return goals


def _as_of_without_a_store(name: str, sources: Sequence[str | Path]) -> ParameterError:
    if len(sources) > 1:
        return ParameterError(f"{name} reads a store as it was; give one store as the only source")
    return ParameterError(
        f"{name} reads a store as it was; the source is not a store: {sources[0]}"
    )


def _resolved_scope(goal: Target, known: scope.Known) -> Target:
    """A target on a queue or channel as the data spells it (case ignored, as for the
    filters); one the data does not have is an error, not a target of no data every week."""
    if goal.queue is None and goal.channel is None:
        return goal
    queues, channels = scope.resolve(
        [goal.queue] if goal.queue else [],
        [goal.channel] if goal.channel else [],
        known,
        where=f"target {goal.text()}: ",
    )
    return dataclasses.replace(
        goal, queue=queues[0] if queues else None, channel=channels[0] if channels else None
    )


def _business_hours(value: object) -> BusinessHours | None:
    """Opening hours from a notebook parameter or the caller; None or empty: none."""
    if value in (None, "", {}):
        return None
    return hours_from_config(value, "business_hours")


def _check_hours_queues(hours: BusinessHours, known: scope.Known) -> None:
    """A queue with its own hours must be one the data has, spelt as the data spells it: a
    misspelt one would silently give its interactions the default hours."""
    for name, _ in hours.queues:
        if name in known.queues:
            continue
        matches, _ = scope.resolve([name], [], known, where="business_hours: ")
        raise ParameterError(
            f"business_hours: queue {name!r} has its own hours; the data spells it {matches[0]!r}"
        )


def _scoped(files: list[str], parameters: dict[str, object]) -> dict[str, object]:
    """``parameters`` with the queue and channel filters checked against the data.

    A misspelt filter fails here, before any kernel starts; one that differs from the data
    only in case is passed on as the data spells it.
    """
    queues = _names(parameters.get("queues"), "queues")  # type: ignore[arg-type]
    channels = _names(parameters.get("channels"), "channels")  # type: ignore[arg-type]
    hours = _business_hours(parameters.get("business_hours"))
    if not queues and not channels and (hours is None or not hours.queues):
        return parameters
    # against the snapshot the reports will read, not whatever the store holds now
    known = scope.known(files, as_of=parameters.get("as_of"))  # type: ignore[arg-type]
    queues, channels = scope.resolve(queues, channels, known)
    if hours is not None:
        _check_hours_queues(hours, known)
    return {**parameters, "queues": queues, "channels": channels}


def notebook_folder() -> Path:
    """The folder of the built-in report notebooks.

    A wheel carries them inside the package (``cxreports/notebooks/``, mapped there from the
    repository's ``notebooks/`` at build time); a checkout, installed with ``pip install -e .``
    or not, reads the repository's own ``notebooks/``, the one copy.
    """
    packaged = resources.files("cxreports") / "notebooks"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "notebooks"


#: The built-in report notebooks (see :func:`notebook_folder`).
NOTEBOOKS = notebook_folder()

#: What a report name may be: it names the report's output files.
REPORT_NAME_RULE = "1 to 64 lower-case letters, digits or '-', starting with a letter or digit"
_REPORT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_MAX_NOTEBOOK_BYTES = 20_000_000


@dataclass(frozen=True)
class Report:
    """One report to render: its name (the stem of its output files), notebook and title."""

    name: str
    notebook: Path
    title: str


def builtin_report(name: str, notebooks: str | Path = NOTEBOOKS) -> Report:
    """A built-in report by name, its notebook taken from ``notebooks``."""
    return Report(name, Path(notebooks) / {**REPORTS, **OPTIONAL}[name], TITLES[name])


def report_name_problem(name: object) -> str | None:
    """What is wrong with a custom report's name, without repeating it (None when valid).

    Examples
    --------
    >>> report_name_problem("team-sla") is None
    True
    >>> report_name_problem("csat-sla")
    'the name belongs to a built-in report: choose another'
    >>> report_name_problem("agent-scorecards")
    'the name belongs to a built-in report: choose another'
    """
    if not isinstance(name, str) or not _REPORT_NAME.fullmatch(name):
        return f"the name must be {REPORT_NAME_RULE} (it names the output files)"
    if name in REPORTS or name in OPTIONAL or name == "all":
        return "the name belongs to a built-in report: choose another"
    return None


def notebook_problem(path: str | Path) -> str | None:
    """What keeps ``path`` from being a report notebook, without repeating it (None when fit).

    A report notebook is an ``.ipynb`` file that nbformat reads and that has a code cell
    tagged ``parameters`` (papermill puts the report's parameters after it). Checked before
    any kernel starts.
    """
    path = Path(path)
    if path.suffix != ".ipynb":
        return "the notebook must be an .ipynb file"
    try:
        if not path.is_file():
            return "the notebook is not a file (check the path)"
        if path.stat().st_size > _MAX_NOTEBOOK_BYTES:
            return "the notebook is over 20 MB: clear its outputs"
        nb = nbformat.read(path, as_version=4)
    except OSError as exc:
        return f"the notebook cannot be read ({exc.strerror})"
    except Exception:  # nbformat raises JSON, validation and version errors of many kinds
        return "the notebook is not a Jupyter notebook nbformat can read"
    kernel, info = (nb.metadata.get(k) for k in ("kernelspec", "language_info"))
    kernel, info = (m if isinstance(m, dict) else {} for m in (kernel, info))
    language = kernel.get("language") or info.get("name") or "python"
    if str(language).lower() != "python":
        return "the notebook is not a Python notebook (its kernel metadata names another language)"
    tagged = [
        c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])
    ]
    if not tagged:
        return (
            "the notebook has no code cell tagged 'parameters': tag the cell that sets source, "
            "week, tz and the other standard parameters (JupyterLab: Property Inspector, "
            "Cell Tags)"
        )
    return None


def custom_report(
    notebook: str | Path, name: str | None = None, title: str | None = None
) -> Report:
    """A team's own report notebook, checked before any kernel starts.

    ``name`` names the output files (default: the notebook's file name, lower case, ``_`` as
    ``-``); it may not be a built-in report's. ``title`` heads the HTML and PDF (default: the
    name in words).

    Examples
    --------
    >>> custom_report("notebooks/channel_review.ipynb").name
    'channel-review'
    """
    path = Path(notebook)
    if problem := notebook_problem(path):
        raise ParameterError(f"{path}: {problem}")
    derived = name is None
    name = path.stem.lower().replace("_", "-") if name is None else name
    if problem := report_name_problem(name):
        hint = " (the name comes from the file name: rename the notebook)" if derived else ""
        raise ParameterError(f"{path}: report name {name!r}: {problem}{hint}")
    if title is None:
        title = name.replace("-", " ").capitalize()
    return Report(name, path.absolute(), title)


@dataclass(frozen=True)
class ReportRun:
    """One week's reports for one audience, checked and ready to render (see :func:`plan`)."""

    reports: tuple[Report, ...]
    files: tuple[str, ...]
    week: str
    tz: str
    parameters: dict[str, object]
    target: Path
    formats: tuple[str, ...]


def notebook_parameters(
    week: str | Week | None, tz: str = "UTC", **parameters: object
) -> tuple[Week, dict[str, object]]:
    """The week and the report parameters (but ``as_of``, which depends on the source) checked
    as :func:`check_parameters` does, with the teams, targets and business hours checked
    against each other; given as a notebook takes them: ``team_map`` an absolute path (a
    notebook runs in its own folder), ``targets`` and ``business_hours`` plain values.
    ``cxreports report`` and ``cxreports notebooks`` both come through here.

    Examples
    --------
    >>> wk, p = notebook_parameters("2026-W13", targets=["sla_met_rate >= 0.8"])
    >>> p["targets"]
    [{'metric': 'sla_met_rate', 'op': '>=', 'bound': 0.8}]
    """
    team_map = parameters.pop("team_map", None)
    teams = parameters.pop("teams", None)
    targets = parameters.pop("targets", None)
    hours = _business_hours(parameters.pop("business_hours", None))
    wk = check_parameters(week, tz, **parameters)  # type: ignore[arg-type]
    mapping = None
    if team_map not in (None, ""):
        mapping = read_teams(team_map)  # type: ignore[arg-type]  # a bad one stops here
        parameters["team_map"] = str(Path(team_map).absolute())  # type: ignore[arg-type]
    if team_names := _team_names(teams, mapping):  # type: ignore[arg-type]
        parameters["teams"] = team_names
    if goals := _targets(targets, mapping, hours):  # type: ignore[arg-type]
        parameters["targets"] = as_parameters(goals)
    if hours is not None:
        parameters["business_hours"] = hours.as_parameters()
    return wk, parameters


def plan(
    names: Sequence[str],
    sources: Sequence[str | Path],
    week: str | None,
    tz: str,
    out: str | Path,
    *,
    formats: Sequence[str] = ("html", "pdf"),
    notebooks: str | Path = NOTEBOOKS,
    custom: Sequence[Report] = (),
    **parameters: object,
) -> ReportRun:
    """Check everything :func:`render_reports` would render, before any kernel starts.

    Reports, formats, parameters, sources and filters: a bad one raises one
    :class:`ParameterError`. A store is pinned to its snapshot now (``as_of`` becomes a
    version), so every report and the digest read the same one whatever a load commits
    meanwhile.
    """
    from cxreports.load import resolve_sources
    from cxreports.render import EXPORTERS

    unknown = [n for n in names if n not in REPORTS and n not in OPTIONAL]
    if unknown or not (names or custom):
        got = f"unknown report {unknown[0]!r}" if unknown else "no report named"
        raise ParameterError(
            f"{got}: choose from {', '.join([*REPORTS, *OPTIONAL])}, or give a notebook"
        )
    formats = [formats] if isinstance(formats, str) else list(formats)
    bad = [f for f in formats if f not in EXPORTERS]
    if bad or not formats:
        got = f"unknown format {bad[0]!r}" if bad else "no output format given"
        raise ParameterError(f"{got}: choose one or more of {', '.join(EXPORTERS)}")
    if extra := sorted(set(parameters) - set(NOTEBOOK_PARAMETERS)):
        raise ParameterError(
            f"unknown report parameter {extra[0]!r}: expected {', '.join(NOTEBOOK_PARAMETERS)}"
        )
    as_of = parameters.pop("as_of", None)
    wk, parameters = notebook_parameters(week, tz, **parameters)
    builtins = [builtin_report(n, notebooks) for n in dict.fromkeys(names)]
    reports = list(builtins)
    for report in custom:
        # a Report made by hand skips custom_report's checks; they are cheap, so run them here
        checked = custom_report(report.notebook, report.name, report.title)
        if any(r.name == checked.name for r in reports):
            raise ParameterError(
                f"{report.notebook}: two reports are named {checked.name!r}; each needs its "
                "own name, as it names the output files"
            )
        reports.append(checked)
    # absolute, globs included: the notebook runs in its own folder, not in the caller's
    files = [s if store.is_remote(s) else str(Path(s).absolute()) for s in _sources(sources)]
    one_store = len(files) == 1 and store.is_store(files[0])
    if not one_store and not (len(files) == 1 and store.is_remote(files[0])):
        resolve_sources(files)  # (an s3:// store is no file)
    if one_store:
        # a damaged store fails here, not in every kernel
        pinned = None if as_of in (None, "") else as_of  # (version 0 is a version)
        parameters["as_of"] = store.verify(files[0], pinned).version
    elif as_of not in (None, ""):
        raise _as_of_without_a_store("--as-of", files)
    parameters = _scoped(files, parameters)
    if missing := [r.notebook for r in builtins if not r.notebook.is_file()]:
        raise ParameterError(
            f"report notebook {missing[0].name} not found in {missing[0].parent}: reinstall "
            "cxreports (its wheel carries the notebooks), or pass the notebooks folder"
        )
    target = Path(out).absolute() / wk.label
    return ReportRun(tuple(reports), tuple(files), wk.label, tz, parameters, target, tuple(formats))


def render_reports(
    names: Sequence[str],
    sources: Sequence[str | Path],
    week: str | None,
    tz: str,
    out: str | Path,
    *,
    formats: Sequence[str] = ("html", "pdf"),
    notebooks: str | Path = NOTEBOOKS,
    custom: Sequence[Report] = (),
    timings: dict[str, float] | None = None,
    **parameters: object,
) -> dict[str, dict[str, Path]]:
    """Render report notebooks for one week into ``OUT/<week>/<report>.{ipynb,html,pdf}``.

    ``names`` are built-in reports (their notebooks are read from ``notebooks``); ``custom``
    are a team's own (see :func:`custom_report`), rendered the same way with the same
    parameters. Once every report has rendered, the week's email digest is written to
    ``OUT/<week>/email/`` (see :mod:`cxreports.digest`), naming the reports it goes with; a
    week without it is not sent.

    Parameters are checked here, before a kernel starts, so a typo costs a second, not a run.
    ``parameters`` are the notebooks' other parameters (queues, channels, min_volume,
    frt_target_s, csat_score_field, as_of). ``timings``, if given, collects seconds per stage,
    summed over the reports (which render side by side, so the sum exceeds the time taken).
    """
    run = plan(
        names,
        sources,
        week,
        tz,
        out,
        formats=formats,
        notebooks=notebooks,
        custom=custom,
        **parameters,
    )
    return render_runs([run], timings=timings)[0]


#: Prefix of a run's digest staging folder in the run's output folder; the run's pid follows.
_STAGING = ".email-"
_STAGING_NAME = re.compile(rf"{re.escape(_STAGING)}(\d+)-")


def render_runs(
    runs: Sequence[ReportRun], *, timings: dict[str, float] | None = None, kernels: int = 0
) -> list[dict[str, dict[str, Path]]]:
    """Render several :class:`ReportRun` (a weekly job's groups) in one pool of warm kernels.

    Each kernel starts once and renders report after report (see :mod:`cxreports.kernels`):
    with at least as many runs as kernels, a run's reports and digest go to one kernel, which
    reads the week once for all of them; fewer runs are split by report so that every core
    works (a run of one report keeps its digest in its kernel). ``kernels`` is the pool's size
    (default: one per core, at most four). A run split across kernels has its week computed
    by this process while they start (:func:`share_week`): they map it instead of one of them
    computing it while the others wait. If any report fails, the reports not yet started are
    dropped and the error is raised; a run's digest is written only once every report of every
    run has rendered.
    """
    from cxreports import digestfiles
    from cxreports.kernels import MAX_KERNELS, KernelPool, WarmKernel
    from cxreports.render import render_report

    spent: list[dict[str, float]] = [{} for _ in runs]
    for run in runs:  # what a run killed half-way (kill -9) left
        remove_dead(run.target, _STAGING_NAME)
    staging = [run.target / f"{_STAGING}{os.getpid()}-{uuid.uuid4().hex[:12]}" for run in runs]

    def report_task(run: ReportRun, report: Report, stages: dict[str, float]):  # type: ignore[no-untyped-def]
        def task(kernel: WarmKernel) -> tuple[str, dict[str, Path]]:
            importing.join()
            files = render_report(
                report.notebook.absolute(),
                {"source": list(run.files), "week": run.week, "tz": run.tz, **run.parameters},
                run.target,
                report.name,
                formats=run.formats,
                title=f"{report.title} · {run.week}",
                timings=stages,
                kernel=kernel,
            )
            return report.name, files

        return task

    def digest_task(run: ReportRun, folder: Path, stages: dict[str, float]):  # type: ignore[no-untyped-def]
        def task(kernel: WarmKernel) -> None:
            done = kernel.call(
                "digest",
                staging=str(folder),
                sources=list(run.files),
                week=run.week,
                tz=run.tz,
                parameters=run.parameters,
            )
            for stage, seconds in done["timings"].items():
                stages[stage] = stages.get(stage, 0.0) + seconds

        return task

    # the scorecards first: the run's other reports of the week are its figures without them
    tasks = [
        [report_task(run, r, spent[i]) for r in sorted(run.reports, key=_not_scorecards)]
        + [digest_task(run, staging[i], spent[i])]
        for i, run in enumerate(runs)
    ]
    size = min(kernels or os.cpu_count() or 1, MAX_KERNELS)
    # a run's tasks in one kernel (it reads the week once) unless that leaves cores idle; a
    # run of one report keeps its digest with it (the digest alone would start a kernel only
    # to wait for that report's week)
    units: list[tuple[int, list[Callable[[WarmKernel], Any]]]] = []
    for i, group in enumerate(tasks):
        if len(runs) >= size or len(runs[i].reports) == 1:
            units.append((i, group))
        else:
            units += [(i, [task]) for task in group]
    for run in runs:
        ensure_dir(run.target)
        # a digest from an earlier run must not outlive a failing one: sending looks for it
        (run.target / digestfiles.FOLDER / "digest.json").unlink(missing_ok=True)
    written: list[dict[str, dict[str, Path]]] = [{} for _ in runs]
    # what runs the notebooks (papermill and its client: 0.4 s) is imported while the kernels
    # start, not when they are ready and their first notebooks wait for it; what starts the
    # kernels first, here: two threads importing one package's modules in different orders
    # can each get the other's half-made module
    import jupyter_client.manager  # noqa: F401

    importing = threading.Thread(target=_import_papermill, name="cxreports-imports", daemon=True)
    importing.start()
    try:
        # reports of one run in different kernels: its week is computed once, by the first
        with KernelPool(min(size, len(units)), share_weeks=len(units) > len(runs)) as pool:
            futures = [(i, pool.submit(_in_turn(group))) for i, group in units]
            try:
                if pool.shared is not None:
                    # the kernels take a second or two to start; meanwhile this process
                    # computes the week they share, and they wait for it
                    for run in runs:
                        share_week(run, pool.shared)
                for i, future in futures:
                    written[i].update(r for r in future.result() if r is not None)
            except BaseException:
                pool.cancel()
                raise
        for i, run in enumerate(runs):
            body = digestfiles.read(staging[i])
            reports = [r.name for r in run.reports]
            digestfiles.write(body, run.target, reports=reports, formats=run.formats)
    finally:
        for folder in staging:
            shutil.rmtree(folder, ignore_errors=True)
    if timings is not None:
        for stages in spent:
            for stage, seconds in stages.items():
                timings[stage] = timings.get(stage, 0.0) + seconds
    return [{r.name: written[i][r.name] for r in run.reports} for i, run in enumerate(runs)]


def _import_papermill() -> None:
    # a failure here (papermill missing) is said by the first notebook's own import
    with contextlib.suppress(Exception):
        import cxreports.warm_engine  # noqa: F401  (imports papermill)


def share_week(run: ReportRun, shared: str | Path) -> None:
    """Compute ``run``'s week into the shared folder of a pool's kernels (``keep_prepared``),
    as the first of its reports would: the kernels that render them map it instead.

    The week is the one the built-in reports and the digest ask for (the run's parameters);
    nothing is kept in this process. A week that cannot be computed here (bad data, a damaged
    store, anything) is left to the reports: the same call in their notebooks fails and says
    why, as it would without this step.
    """
    saved = (_KEPT.on, _KEPT.shared, _KEPT.loads, _KEPT.weeks)
    _KEPT.on, _KEPT.shared, _KEPT.loads, _KEPT.weeks = True, Path(shared), {}, {}
    try:
        scorecards = any(r.name in OPTIONAL for r in run.reports)
        prepare(list(run.files), run.week, run.tz, scorecards=scorecards, **run.parameters)  # type: ignore[arg-type]
    except Exception:  # the same call in the report's kernel fails and says why
        pass
    finally:
        _KEPT.on, _KEPT.shared, _KEPT.loads, _KEPT.weeks = saved


def _not_scorecards(report: Report) -> bool:
    return report.name not in OPTIONAL


def _in_turn(tasks: Sequence[Callable[[Any], Any]]) -> Callable[[Any], list[Any]]:
    """One task that runs ``tasks`` one after the other in the same kernel."""
    return lambda kernel: [task(kernel) for task in tasks]
