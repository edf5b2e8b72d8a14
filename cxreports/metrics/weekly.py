"""Every number of the weekly reports, computed once from a load: :func:`weekly`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import polars as pl

from cxreports import schema as S
from cxreports.hours import BusinessHours
from cxreports.load import CxLogs
from cxreports.metrics import business_time, csat, quality, volume
from cxreports.metrics import changes as changes_
from cxreports.metrics import scorecards as scorecards_
from cxreports.metrics.core import BREAKDOWNS, aggregate, counted, filtered, in_week, localize
from cxreports.metrics.data_quality import KEY_FIELDS, KNOWN_VALUES, data_quality
from cxreports.metrics.families import Stages, stages
from cxreports.period import Week
from cxreports.schema import tamed_frame
from cxreports.targets import cases_of
from cxreports.teams import UNASSIGNED, Teams, in_teams, with_team

Breakdown = Literal[
    "agents", "teams", "targets", "queues", "channels", "daily", "hourly", "summary"
]

#: Headline KPIs: column, label, unit, which direction is better.
KPIS: tuple[tuple[str, str, str, str], ...] = (
    ("handled", "Handled", "count", "neutral"),
    ("aht_s", "Handle time (mean)", "seconds", "lower"),
    ("frt_mean_s", "First response (mean)", "seconds", "lower"),
    ("resolved_rate", "Resolved", "rate", "higher"),
    ("fcr_rate", "First-contact resolution", "rate", "higher"),
    ("sla_met_rate", "SLA met", "rate", "higher"),
    ("csat_rate", "CSAT (4-5 of 5)", "rate", "higher"),
    ("csat_score_mean", "CSAT mean score", "score", "higher"),
    ("transfer_rate", "Transferred", "rate", "lower"),
    ("hold_rate", "Put on hold", "rate", "lower"),
)

#: Headline KPIs added with business hours: first response on the clock of the opening hours,
#: and how many interactions started while the center was closed.
BUSINESS_KPIS: tuple[tuple[str, str, str, str], ...] = (
    ("frt_business_mean_s", "First response, business hours (mean)", "seconds", "lower"),
    ("outside_hours_rate", "Started outside hours", "rate", "neutral"),
)

#: The columns of the headline KPIs and of their intervals.
_KPI_COLUMNS = frozenset(
    f"{c}{end}" for c, *_ in (*KPIS, *BUSINESS_KPIS) for end in ("", "_low", "_high")
)

#: Per-agent columns compared with the previous week (``<name>_prev``).
AGENT_COMPARED = ("handled", "aht_s", "frt_mean_s", "resolved_rate", "sla_met_rate", "csat_rate")

#: Columns of ``WeeklyMetrics.rows``: per-interaction values for distributions, no customer data.
ROW_COLUMNS = (
    "id", "agent_id", "agent_name", "queue_name", "channel", "day", "weekday", "hour",
    "handled_time_s", "first_response_time_s", "hold_time_s", "wrap_up_time_s",
    "disposition", "sla_status", "csat_score",
)  # fmt: skip

#: The data's first and last start (all of it, whatever the scope); None without data.
Span = tuple[datetime | None, datetime | None]

#: How far into a week the data must begin for the week to count as only partly in the data
#: (its notes say so; it is no "last week" and no week of a baseline): a center that opens on
#: Monday morning begins its data a few hours in.
PART_WEEK = timedelta(days=1)
#: How long before a week's end the data must stop for the week to count as cut short when no
#: whole week before it tells (:func:`_ends_early`): a center closed at weekends ends a whole
#: week's data on Friday evening, 2 days early.
ENDS_EARLY = timedelta(days=3)

#: Weeks in the trend by default, ending with the report week.
TREND_WEEKS = 8

#: Fewest cases (the rate's own denominator) on which an agent's rate may raise a flag.
MIN_RATE_BASE = 5


def breakdown(
    frame: pl.LazyFrame | pl.DataFrame, by: Sequence[str] = (), frt_target_s: float = 60.0
) -> pl.DataFrame:
    """Aggregate counted interactions by ``by`` (empty: one row for the whole frame).

    ``frame`` needs the loader's columns plus ``fcr``/``fcr_window_complete``
    (:func:`quality.add_fcr_columns`) and, for ``day``/``hour``, :func:`core.localize`.
    An agent's name is the latest non-null one seen; rows are sorted by the keys.

    Examples
    --------
    >>> from cxreports import load
    >>> frame = quality.add_fcr_columns(load("tests/data/seed_page.json").interactions.lazy())
    >>> breakdown(frame, ["channel"]).select("channel", "handled", "aht_s", "fcr_rate").rows()
    [('messenger', 1, 2720.0, 1.0)]
    """
    return _breakdown(frame, by, stages(frt_target_s)).collect()


def _breakdown(frame: pl.LazyFrame | pl.DataFrame, by: Sequence[str], s: Stages) -> pl.LazyFrame:
    keys = [k for k in by if k != "agent_name"]
    lazy = quality.with_outcomes(frame.lazy())
    out = aggregate(lazy, keys, s.aggregations, s.figures)
    if "agent_name" in by:
        names = (
            lazy.filter(pl.col("agent_name").is_not_null())
            .group_by(keys)
            .agg(pl.col("agent_name").sort_by("started_at").last())
        )
        out = out.join(names, on=keys, how="left", nulls_equal=True).select(
            *keys, "agent_name", pl.exclude(*keys, "agent_name")
        )
    return out.sort(keys, nulls_last=True) if keys else out


@dataclass(frozen=True)
class WeeklyMetrics:
    """The numbers of one report week; every table is a finished polars frame.

    ``rows`` are the week's counted interactions (not deleted, not bot rooms) with local-time
    columns; they hold no customer data beyond opaque ids. ``previous_summary`` is last week's,
    which ``kpis`` and ``agents`` compare with: up to the same point of it when the data ends
    part way through this week (``ends_early``).
    """

    week: Week
    params: dict[str, Any]
    summary: pl.DataFrame
    previous_summary: pl.DataFrame
    kpis: pl.DataFrame
    agents: pl.DataFrame
    queues: pl.DataFrame
    channels: pl.DataFrame
    daily: pl.DataFrame
    hourly: pl.DataFrame
    trend: pl.DataFrame
    heatmap: pl.DataFrame
    dispositions: pl.DataFrame
    categories: pl.DataFrame
    bots: pl.DataFrame
    csat_by_queue: pl.DataFrame
    csat_by_channel: pl.DataFrame
    csat_ratings: pl.DataFrame
    rows: pl.DataFrame
    quality: dict[str, Any] = field(default_factory=dict)
    #: One row per team (``team``, ``lead``, then every metric of a breakdown), when a teams
    #: mapping was given; agents it does not name are the team :data:`teams.UNASSIGNED`.
    teams: pl.DataFrame | None = None
    #: Each target's status this week (:func:`cxreports.targets.evaluate`), when targets were
    #: given.
    targets: pl.DataFrame | None = None
    #: The opening hours the business-time figures were measured against, when given.
    hours: BusinessHours | None = None
    #: What changed beyond noise against last week and the baseline, and why
    #: (:mod:`cxreports.metrics.changes`).
    changes: changes_.Changes | None = None
    #: Every agent's scorecard, when asked for (:mod:`cxreports.metrics.scorecards`).
    scorecards: scorecards_.Scorecards | None = None
    #: The data's last start when the data ends part way through the week
    #: (:func:`_ends_early`): the rest of it is unknown, and the headline, the agents' changes
    #: and What changed compare every week only up to the same point.
    ends_early: datetime | None = None

    @property
    def handled(self) -> int:
        """Counted interactions in the week."""
        return int(self.summary["handled"].item())

    @property
    def has_csat(self) -> bool:
        """Whether any CSAT score was given in the week."""
        return bool(self.summary["csat_responses"].item())

    @property
    def fcr_incomplete(self) -> int:
        """Interactions whose 7-day FCR window reaches past the end of the data."""
        return int(self.summary["fcr_window_incomplete"].item())

    @property
    def first_response(self) -> tuple[str, str]:
        """The column of ``rows`` that the first-response target is measured on, and its
        title: business time with business hours and ``frt_clock = "business"``."""
        if self.hours is not None and self.hours.frt_clock == "business":
            return "first_response_business_s", "First response time, business hours"
        return "first_response_time_s", "First response time"

    def table(self, name: Breakdown) -> pl.DataFrame:
        """A breakdown by name (``agents``, ``queues``, ``channels``, ``daily``, ...)."""
        return getattr(self, name)


def weekly(
    logs: CxLogs,
    week: str | Week | None = None,
    tz: str = "UTC",
    *,
    queues: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
    min_volume: int = 20,
    frt_target_s: float = 60.0,
    trend_weeks: int = TREND_WEEKS,
    with_fcr: pl.DataFrame | None = None,
    team_map: Teams | None = None,
    teams: Sequence[str] | None = None,
    business_hours: BusinessHours | None = None,
    scorecards: bool = False,
) -> WeeklyMetrics:
    """Compute every metric of the weekly reports.

    Parameters
    ----------
    logs
        The loaded data (:func:`cxreports.load`); the weeks before and after ``week`` are used
        for the comparison, the trend and first-contact resolution.
    week
        ``2026-W13`` (ISO week in ``tz``); None means the last complete week.
    tz
        IANA time zone of the report; weeks, days and hours are local to it.
    queues, channels
        Restrict every number to these queues / channels.
    min_volume
        Agents with fewer handled interactions are shown but not ranked or flagged.
    frt_target_s
        Threshold of the first-response proxy (``frt_within_target_rate``).
    trend_weeks
        Weeks in the trend, ending with ``week``.
    with_fcr
        ``logs.interactions`` with the first-contact-resolution columns, as
        :func:`fcr_frame` returns them, when the caller computes several weeks or scopes of
        one load (the report kernels do): found once, not for every scope.
    team_map
        Agents' teams (:mod:`cxreports.teams`): adds the ``teams`` roll-up and a ``team``
        column to ``agents`` and ``rows``.
    teams
        Restrict every number to the agents of these teams of ``team_map`` (``Unassigned``:
        the agents it does not name).
    business_hours
        Opening hours (:mod:`cxreports.hours`): first response and resolution are also
        measured in business time, and interactions that started outside hours are counted.
    scorecards
        Also build every agent's scorecard (:mod:`cxreports.metrics.scorecards`).
    """
    wk = Week.resolve(week, tz)
    prev = wk.previous()
    fcr = (with_fcr if with_fcr is not None else fcr_frame(logs)).lazy()
    # the weeks of the trend and the comparison, in the scope, computed once: every figure
    # below is taken from this frame (first-contact resolution looked at all the data first)
    first = first_week(wk, trend_weeks)
    span = pl.col("started_at").is_between(
        pl.lit(first.start_utc).dt.convert_time_zone("UTC"),
        pl.lit(wk.end_utc).dt.convert_time_zone("UTC"),
        closed="left",
    )
    # only the columns the figures read: the weeks of a dense center are ~700,000 rows
    base = (
        in_teams(filtered(fcr, queues, channels), team_map, teams)
        .filter(span)
        .select(_BASE_COLUMNS)
        .collect()
    )
    if business_hours is not None:
        base = business_time.add_columns(base, business_hours, tz)
    base = base.lazy()
    aggs = stages(frt_target_s, None if business_hours is None else business_hours.frt_clock)
    scoped = in_teams(filtered(logs.interactions.lazy(), queues, channels), team_map, teams)
    week_all = in_week(scoped, wk).collect()
    # local days and hours for the week's own rows only: the other weeks need none
    rows = with_team(localize(counted(in_week(base, wk)), tz), team_map).collect()
    prev_rows = counted(in_week(base, prev)).collect()

    by = BREAKDOWNS
    span = _data_span(logs)
    history = _weeks_back(base, wk, tz)
    # an earlier week the data begins a day or more into is part of a week: 8 contacts of a
    # Sunday evening are no last week to compare 491 with, nor a week of the baseline
    partial = [
        n
        for n in range(1, changes_.BASELINE_WEEKS + 1)
        if _known(wk.previous(n), span) and _begins_late(wk.previous(n), span)
    ]
    whole = [
        n
        for n in range(1, changes_.BASELINE_WEEKS + 1)
        if n not in partial and _known(wk.previous(n), span)
    ]
    # last week and this one both within the data: else nothing is compared
    comparable = _known(prev, span) and _known(wk, span)
    compared = history.filter(~pl.col("_week").is_in(partial))
    ends_early, weeks = _ends_early(wk, span, compared, whole if comparable else [], tz)
    until = cut = None
    if ends_early is not None:
        # the data stops part way through this week: 92 contacts to Monday morning against
        # 495 in the whole of last week is no fall. Last week (the headline, each agent's
        # change), the baseline (What changed, the scorecards) count only up to Monday morning
        local = ends_early.astimezone(ZoneInfo(tz))
        cut = _into_week(pl.col("started_at"), tz) <= _into(local)
        until = f"{local:%a %H:%M}"
        compared = compared.filter(cut)
    lazy_rows = rows.lazy()
    lazy_prev = prev_rows.lazy() if cut is None else prev_rows.lazy().filter(cut)
    cats = (
        logs.wrap_up_categories.lazy()
        .filter(pl.col("level") == 1)
        .join(lazy_rows.select("id"), on="id", how="semi")
        .unique(["id", "value"])
    )
    # every table at once: polars runs the queries side by side on all cores
    queries = {
        "summary": _breakdown(lazy_rows, by["summary"], aggs),
        "previous_summary": _breakdown(lazy_prev, by["summary"], aggs),
        "agents": _breakdown(lazy_rows, by["agents"], aggs),
        "prev_agents": _breakdown(lazy_prev, by["agents"], aggs),
        "daily": _breakdown(lazy_rows, by["daily"], aggs),
        "queues": _breakdown(lazy_rows, by["queues"], aggs),
        "channels": _breakdown(lazy_rows, by["channels"], aggs),
        "hourly": _breakdown(lazy_rows, by["hourly"], aggs),
        "trend": _trend(base, wk, trend_weeks, aggs, span),
        "heatmap": volume.heatmap(lazy_rows),
        "dispositions": volume.mix(lazy_rows, "disposition"),
        "categories": volume.mix(cats, "value").rename({"value": "category"}),
        "bots": volume.bots(week_all.lazy()),
        "csat_by_queue": csat.distribution(lazy_rows, ["queue_name"]),
        "csat_by_channel": csat.distribution(lazy_rows, ["channel"]),
        "csat_ratings": csat.distribution(lazy_rows),
    }
    if team_map is not None:
        queries["teams"] = (
            _breakdown(lazy_rows, ["team"], aggs)
            .join(team_map.leads().lazy(), on="team", how="left")
            .select("team", "lead", pl.exclude("team", "lead"))
            .sort(pl.col("team") == UNASSIGNED, "team")  # agents in no team last
        )
    if scorecards:  # an agent's own baseline: every week of it in the data (rates of a
        # part of a week are rates; its volume is averaged over the weeks summed, below)
        baseline_rows = history.filter(pl.col("_week").is_in(partial + whole))
        if cut is not None:
            baseline_rows = baseline_rows.filter(cut)
        queries["baseline_agents"] = _breakdown(baseline_rows, by["agents"], aggs).join(
            scorecards_.log_sums(baseline_rows), on="agent_id", how="left", nulls_equal=True
        )
        queries["agent_weeks"] = _agent_weeks(history, wk, span)
        queries["week_categories"] = cats.select("id", "value")
    t = dict(zip(queries, pl.collect_all(queries.values()), strict=True))
    # names as reports show them (tamed: no pile of combining marks); the agents' below
    t.update({n: tamed_frame(t[n]) for n in _NAMED if n in t})
    if comparable and whole:
        found = changes_.find(compared, until=until, baseline_weeks=weeks)
    elif comparable:  # no whole week before this one: nothing to compare with
        # (only the data's first week can be partial: when it is last week, no whole week
        # precedes it and nothing is compared)
        found = changes_.Changes(pl.DataFrame(schema=changes_.SCHEMA), 0, 0, first_week=True)
    else:  # a week outside the data: 63 against its 0 is no rise, 0 against 563 no fall
        found = changes_.Changes(
            pl.DataFrame(schema=changes_.SCHEMA), 0, 0, first_week=_known(wk, span),
            outside=_outside(wk, span),
        )  # fmt: skip
    baseline_agents = t.pop("baseline_agents", None)
    agent_weeks = t.pop("agent_weeks", None)
    week_categories = t.pop("week_categories", None)
    summary, previous_summary = t.pop("summary"), t.pop("previous_summary")
    agents = _compare_agents(t.pop("agents"), t.pop("prev_agents"))
    agents = with_team(_rank_and_flag(agents, summary, min_volume).lazy(), team_map).collect()
    agents = tamed_frame(agents)  # (the teams' names too)
    days = pl.DataFrame({"day": wk.days}, schema={"day": pl.Date})
    daily = days.join(t.pop("daily"), on="day", how="left", maintain_order="left").with_columns(
        pl.col("handled").fill_null(0)
    )
    # the weeks only part of which is in the data, in the trend and the scorecards' volume;
    # the report week's as What changed judged it
    weeks_back = max(trend_weeks, changes_.BASELINE_WEEKS + 1)
    part = {w.label: _part_week(w, span) for w in map(wk.previous, range(weeks_back))}
    part[wk.label] = _known(wk, span) and (_begins_late(wk, span) or ends_early is not None)
    part_week = pl.col("iso_week").replace_strict(part, default=False, return_dtype=pl.Boolean)
    t["trend"] = t["trend"].with_columns(part_week.alias("part_week"))
    if agent_weeks is not None:
        agent_weeks = agent_weeks.with_columns(part_week.alias("part_week"))
    metrics = WeeklyMetrics(
        week=wk,
        params={
            "week": wk.label,
            "tz": tz,
            "queues": list(queues or []),
            "channels": list(channels or []),
            # only when filtered by team: the footer lists every parameter
            **({"teams": list(teams)} if teams else {}),
            "min_volume": min_volume,
            "frt_target_s": frt_target_s,
            "trend_weeks": trend_weeks,
            "csat_score_field": logs.csat_score_field,
            **({"business_hours": business_hours.text(tz)} if business_hours else {}),
        },
        summary=summary,
        previous_summary=previous_summary,
        # a week outside the data: nothing to compare with, not a week of 0
        kpis=_kpis(summary, previous_summary if comparable else None, known=_known(wk, span)),
        agents=agents,
        daily=daily,
        **t,
        rows=rows.select(
            ROW_COLUMNS
            + (("team",) if team_map is not None else ())
            + (business_time.COLUMNS if business_hours is not None else ())
        ),
        quality=data_quality(logs, week_all),
        hours=business_hours,
        changes=found,
        ends_early=ends_early,
    )
    if scorecards:
        cards = scorecards_.build(
            metrics.agents,
            baseline_agents,
            metrics.rows,
            week_categories,
            agent_weeks,
            baseline_weeks=len(partial + whole),
        )
        metrics = replace(metrics, scorecards=cards)
    return metrics


#: What the week's figures read of an interaction: the aggregations' own columns, the
#: breakdowns' keys, the per-interaction rows and what scopes a row to a week and to agents.
_BASE_COLUMNS = list(
    dict.fromkeys(
        [
            "id",
            "started_at",
            "deleted_at",
            "is_bot",
            *stages().reads,
            *(k for keys in BREAKDOWNS.values() for k in keys if k not in ("day", "hour")),
            *(c for c in ROW_COLUMNS if c not in ("day", "weekday", "hour")),
        ]
    )
)


#: What :func:`weekly` reads of ``logs``, table by table (a store is read for these alone:
#: ``store.load_window(only=READS)``): the columns above, and those first-contact resolution,
#: the outcomes, the data-quality panel and the bot rooms read of the week's interactions.
READS: dict[str, list[str]] = {
    "interactions": [
        c
        for c in S.TABLES["interactions"]
        if c in _BASE_COLUMNS
        or c in KEY_FIELDS
        or c in KNOWN_VALUES
        or c in ("contact_id", "first_assignee_id", "closed_assignee_id", "is_ai_agent")
    ],
    "wrap_up_categories": ["id", "value", "level"],
}


#: The tables of :func:`weekly` that name things from the data (queues, categories, teams).
_NAMED = (
    "queues", "channels", "dispositions", "categories", "csat_by_queue", "csat_by_channel",
    "teams", "week_categories",
)  # fmt: skip


def first_week(week: Week, trend_weeks: int) -> Week:
    """The earliest week the figures of ``week`` read: the trend's first, or the first of the
    baseline of what changed (:data:`changes.BASELINE_WEEKS`), whichever is earlier."""
    return week.previous(max(trend_weeks - 1, changes_.BASELINE_WEEKS))


def fcr_frame(logs: CxLogs) -> pl.DataFrame:
    """The interactions of ``logs`` with first-contact resolution worked out (as
    :func:`quality.add_fcr_columns` does, over every queue and channel of the load), in the
    columns the week's figures read: a dense center's ten weeks are ~800,000 rows, and the
    rest of their columns (source files, ids) half of their memory.

    The soft-deleted rows stay (no figure counts them: :func:`core.counted`), so that the
    other columns are not copied: a copy of ~200 MB that cost a tenth of a warm report's time.
    """
    interactions = logs.interactions
    data_end = logs.extra.get("data_end")
    if data_end is None:  # the last start of a live interaction, as add_fcr_columns has it
        live = interactions.lazy().filter(pl.col("deleted_at").is_null())
        data_end = live.select(pl.col("started_at").max()).collect().item()
    frame = quality.with_fcr(quality.with_repeats(interactions).lazy(), data_end)
    return frame.select(_BASE_COLUMNS).collect()


def _compare_agents(agents: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    prev = previous.select("agent_id", *(pl.col(c).alias(f"{c}_prev") for c in AGENT_COMPARED))
    return agents.join(prev, on="agent_id", how="left", nulls_equal=True, maintain_order="left")


def _rank_and_flag(agents: pl.DataFrame, team: pl.DataFrame, min_volume: int) -> pl.DataFrame:
    """Rank agents with at least ``min_volume`` handled and flag clear outliers among them.

    Flags: ``AHT high`` (over 1.5x the team's), ``AHT low`` (under half), ``FRT slow`` (mean
    first response over 2x the team's), ``resolved low``, ``SLA low``, ``CSAT low``.

    A mean (AHT, FRT) is flagged only when it rests on at least ``MIN_RATE_BASE`` durations.
    An agent is flagged below the team on a rate only when the rate rests on at least
    ``MIN_RATE_BASE`` cases (responses for CSAT, SLA verdicts for SLA) and the whole 95% Wilson
    interval of their rate lies below the team's rate, so a handful of cases never raise a flag.
    """
    t = team.row(0, named=True) if team.height else {}
    ranked = pl.col("handled") >= min_volume
    checks: list[tuple[pl.Expr, str]] = []
    # a mean of a handful of durations is no more to go by than a rate of a handful of cases
    timed = pl.col("aht_n") >= MIN_RATE_BASE
    if t.get("aht_s"):
        checks.append((timed & (pl.col("aht_s") > 1.5 * t["aht_s"]), "AHT high"))
        checks.append((timed & (pl.col("aht_s") < 0.5 * t["aht_s"]), "AHT low"))
    if t.get("frt_mean_s"):
        slow = (pl.col("frt_n") >= MIN_RATE_BASE) & (pl.col("frt_mean_s") > 2 * t["frt_mean_s"])
        checks.append((slow, "FRT slow"))
    for rate, label, n in (
        ("resolved_rate", "resolved", "handled"),
        ("sla_met_rate", "SLA", "sla_eligible"),
        ("csat_rate", "CSAT", "csat_responses"),
    ):
        if t.get(rate) is not None:
            enough = pl.col(n) >= MIN_RATE_BASE
            checks.append((enough & (pl.col(f"{rate}_high") < t[rate]), f"{label} low"))
    flags = pl.concat_list(
        [pl.when(cond.fill_null(False)).then(pl.lit(text)) for cond, text in checks]
        or [pl.lit(None, dtype=pl.String)]
    ).list.drop_nulls()
    return agents.with_columns(
        ranked=ranked,
        rank=pl.when(ranked).then(
            pl.col("handled").rank("min", descending=True).over(ranked).cast(pl.UInt32)
        ),
        flags=pl.when(ranked & (flags.list.len() > 0)).then(flags.list.join("; ")),
    )


def _change(value: float, prior: float) -> float:
    """``value - prior``, 0 where the two differ only by floating-point rounding (the same
    durations summed in another order): no arrow, no verdict for a change that is not one.

    Examples
    --------
    >>> _change(56.20000000000003, 56.200000000000024), _change(0.75, 0.7)
    (0.0, 0.050000000000000044)
    """
    change = float(value - prior)
    return 0.0 if abs(change) <= 1e-9 * max(abs(value), abs(prior)) else change


#: A headline card's reading of its change against last week (:func:`reading`).
Reading = Literal["", "provisional", "within noise", "better", "worse"]


def reading(kpi: dict[str, Any]) -> Reading:
    """The word a headline card (a row of ``WeeklyMetrics.kpis``) gives its change against
    last week: *better* or *worse* only where last week lies outside this week's 95% interval,
    *within noise* where inside, *provisional* while the data does not reach the end of the
    figure's window (FCR), nothing for a figure without an interval or without a change.

    Examples
    --------
    >>> card = {"better": "higher", "change": -0.2, "outside_interval": True,
    ...         "provisional": False}
    >>> reading(card), reading(card | {"outside_interval": False}), reading(card | {"change": 0})
    ('worse', 'within noise', '')
    """
    if kpi["better"] == "neutral" or not kpi["change"] or kpi["outside_interval"] is None:
        return ""
    if kpi["provisional"]:
        return "provisional"
    if not kpi["outside_interval"]:
        return "within noise"
    return "better" if (kpi["change"] > 0) == (kpi["better"] == "higher") else "worse"


def _kpis(
    current: pl.DataFrame, previous: pl.DataFrame | None, *, known: bool = True
) -> pl.DataFrame:
    """The headline cards' rows; a week outside the data (not ``known``) has no values, not
    a count of 0."""
    now = current.row(0, named=True)
    if not known:
        now = {k: None if k in _KPI_COLUMNS else v for k, v in now.items()}
    before = previous.row(0, named=True) if previous is not None else dict.fromkeys(now)
    rows = []
    business = BUSINESS_KPIS if "outside_hours" in now else ()
    for column, label, unit, better in (*KPIS, *business):
        value, prior = now[column], before[column]
        before_n = before.get(cases_of(column))
        low = now.get(f"{column}_low")
        high = now.get(f"{column}_high")
        rows.append(
            {
                "metric": column,
                "label": label,
                "unit": unit,
                "better": better,
                "value": None if value is None else float(value),
                "previous": None if prior is None else float(prior),
                "change": None if value is None or prior is None else _change(value, prior),
                "n": int(now[cases_of(column)] or 0),
                "low": low,
                "high": high,
                # last week on fewer cases than What changed tests is no week to judge by
                "outside_interval": None
                if low is None or prior is None or (before_n or 0) < changes_.MIN_CASES
                else bool(prior < low or prior > high),
                # this week's FCR still waits for repeat contacts the data does not reach yet
                "provisional": column == "fcr_rate" and bool(now.get("fcr_window_incomplete")),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "metric": pl.String,
            "label": pl.String,
            "unit": pl.String,
            "better": pl.String,
            "value": pl.Float64,
            "previous": pl.Float64,
            "change": pl.Float64,
            "n": pl.Int64,
            "low": pl.Float64,
            "high": pl.Float64,
            "outside_interval": pl.Boolean,
            "provisional": pl.Boolean,
        },
    )


def _position(base: pl.LazyFrame, week: Week, weeks: int) -> pl.LazyFrame:
    """The rows of the ``weeks`` weeks ending with ``week``, with ``_week``: 0 for the first.

    A row's week is found by its start against the weeks' UTC boundaries (each week's local
    Monday 00:00, daylight saving included), not by formatting every timestamp.
    """
    spans = [week.previous(n) for n in reversed(range(weeks))]
    bounds = pl.Series([w.start_utc for w in spans] + [week.end_utc]).dt.convert_time_zone("UTC")
    position = pl.lit(bounds).search_sorted(pl.col("started_at"), side="right").cast(pl.Int32) - 1
    return base.filter(
        pl.col("started_at").is_between(pl.lit(bounds[0]), pl.lit(bounds[-1]), closed="left")
    ).with_columns(_week=position)


def _weeks_back(base: pl.LazyFrame, week: Week, tz: str) -> pl.LazyFrame:
    """The counted interactions of ``week`` and the baseline's weeks before it, with
    ``_week`` (weeks back from ``week``), the local weekday and hour."""
    position = _position(base, week, changes_.BASELINE_WEEKS + 1)
    local = pl.col("started_at").dt.convert_time_zone(tz)
    return (
        counted(position)
        .pipe(quality.with_outcomes)
        .with_columns(
            _week=changes_.BASELINE_WEEKS - pl.col("_week"),
            weekday=local.dt.weekday().cast(pl.Int8),
            hour=local.dt.hour().cast(pl.Int8),
        )
    )


def _agent_weeks(history: pl.LazyFrame, week: Week, span: Span) -> pl.LazyFrame:
    """Handled per agent of ``week`` and per week of the baseline and ``week``, oldest first,
    a week without interactions 0 (null if it lies outside the data: :func:`_known`)."""
    spans = [week.previous(n) for n in reversed(range(changes_.BASELINE_WEEKS + 1))]
    weeks = pl.LazyFrame(
        {
            "_week": list(reversed(range(changes_.BASELINE_WEEKS + 1))),
            "iso_week": [w.label for w in spans],
            "_known": [_known(w, span) for w in spans],
        },
        schema={"_week": pl.Int32, "iso_week": pl.String, "_known": pl.Boolean},
    )
    agents = (
        history.filter((pl.col("_week") == 0) & pl.col("agent_id").is_not_null())
        .select("agent_id")
        .unique()
    )
    counts = (
        history.filter(pl.col("agent_id").is_not_null())
        .group_by("agent_id", "_week")
        .agg(pl.len().cast(pl.UInt32).alias("handled"))
    )
    return (
        agents.join(weeks, how="cross")
        .join(counts, on=["agent_id", "_week"], how="left")
        .with_columns(pl.when("_known").then(pl.col("handled").fill_null(0)).alias("handled"))
        .sort("agent_id", "_week", descending=[False, True])
        .select("agent_id", "iso_week", "handled")
    )


def _trend(base: pl.LazyFrame, week: Week, weeks: int, aggs: Stages, span: Span) -> pl.LazyFrame:
    """The headline figures of each of the ``weeks`` weeks ending with ``week``
    (:func:`_position`); a week outside the data (:func:`_known`) has no figures at all."""
    spans = [week.previous(n) for n in reversed(range(weeks))]
    rows = counted(_position(base, week, weeks))
    per_week = _breakdown(rows, ["_week"], aggs)
    frame = pl.LazyFrame(
        {"_week": range(weeks), "iso_week": [w.label for w in spans]},
        schema={"_week": pl.Int32, "iso_week": pl.String},
    )
    return (
        frame.join(per_week, on="_week", how="left", maintain_order="left")
        .drop("_week")
        .with_columns(_handled(spans, span))
    )


def _part_week(week: Week, span: Span) -> bool:
    """Whether only part of ``week`` is in the data, by the clock: the data begins
    :data:`PART_WEEK` or more into it, or ends :data:`ENDS_EARLY` or more before its end (the
    report week is judged by its interactions: :func:`_ends_early`)."""
    if not _known(week, span):
        return False
    last = span[1]
    ends = last is not None and week.end_utc - last >= ENDS_EARLY
    return _begins_late(week, span) or ends


def _begins_late(week: Week, span: Span) -> bool:
    """Whether the data begins :data:`PART_WEEK` or more into ``week``."""
    return span[0] is not None and span[0] - week.start_utc >= PART_WEEK


def _ends_early(
    week: Week, span: Span, rows: pl.LazyFrame | None, whole: list[int], tz: str
) -> tuple[datetime | None, int | None]:
    """The data's last start when the data ends part way through ``week`` (a week in the
    data), and then the weeks before it with ``rows`` (the baseline's weeks: those with rows at
    all, not only before that point; a week quiet until Monday 00:14 is a week of 0 by then).

    Part way: before the ``whole`` weeks before it had seen 5% of their interactions
    (:data:`changes.MATERIAL`, the smallest change in volume worth a sentence), by the same
    local weekday and time; without such weeks, :data:`ENDS_EARLY` or more before its end.
    Not part way: a center closed at weekends ends a whole week on Friday evening, one open
    every day late on Sunday. (None, None) when the data does not end in ``week``."""
    last = span[1]
    if last is None or not _known(week, span) or last >= week.end_utc:
        return None, None
    clock = last if week.end_utc - last >= ENDS_EARLY else None
    if rows is None or not whole:
        return clock, None
    into = _into(last.astimezone(ZoneInfo(tz)))
    earlier = pl.col("_week").filter(pl.col("_week") > 0)
    later, weeks = (  # one pass over the rows for both
        rows.select(
            (_into_week(pl.col("started_at"), tz) > into)
            .filter(pl.col("_week").is_in(whole))
            .mean(),
            earlier.n_unique(),
        )
        .collect()
        .row(0)
    )
    if later is None:
        return clock, weeks
    return (last if later >= changes_.MATERIAL["count"] else None), weeks


def _data_span(logs: CxLogs) -> Span:
    """The first and last start in the data (all of it, whatever the scope): a store window's
    ``first_seen`` and ``last_seen``, or the loaded interactions' earliest and latest."""
    if "first_seen" in logs.extra:
        return logs.extra["first_seen"], logs.extra.get("last_seen")
    started = logs.interactions["started_at"]
    return started.min(), started.max()  # type: ignore[return-value]


def _known(week: Week, span: Span) -> bool:
    """Whether the data reaches into ``week``: a week that ended before the data's first
    interaction, or began after its last, is unknown (no data, not no contacts)."""
    first, last = span
    if first is None or week.end_utc <= first:
        return False
    return last is None or week.start_utc <= last


def _into(local: datetime) -> int:
    """Seconds from the start of its (local, Monday) week to ``local``."""
    return (local.weekday() * 24 + local.hour) * 3600 + local.minute * 60 + local.second


def _into_week(started: pl.Expr, tz: str) -> pl.Expr:
    """:func:`_into` of each start, in ``tz``."""
    local = started.dt.convert_time_zone(tz)
    days = local.dt.weekday().cast(pl.Int32) - 1
    return (
        (days * 24 + local.dt.hour().cast(pl.Int32)) * 3600
        + local.dt.minute().cast(pl.Int32) * 60
        + local.dt.second().cast(pl.Int32)
    )


def _outside(week: Week, span: Span) -> Literal["before", "after"] | None:
    """Where ``week`` lies when the data does not reach into it: before or after the data
    (None within it, or without any data: a week of nothing, not one outside something)."""
    if span[0] is None or _known(week, span):
        return None
    return "after" if week.end_utc > span[0] else "before"


def _handled(weeks: list[Week], span: Span) -> pl.Expr:
    """``handled`` of ``weeks``: 0 where a week had no interaction, null where it is unknown
    (:func:`_known`)."""
    known = pl.Series([_known(w, span) for w in weeks], dtype=pl.Boolean)
    return pl.when(pl.lit(known)).then(pl.col("handled").fill_null(0)).alias("handled")
