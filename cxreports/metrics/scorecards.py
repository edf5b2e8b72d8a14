"""Agent scorecards: each agent's week against their own 8-week baseline and against their
peers, for a team lead's one-to-one.

Peers are the other ranked agents whose main queue (the queue of most of their interactions
this week) is the agent's; with fewer than three of them, every other ranked agent. A
*strength* or a *focus area* is a figure where the agent differs from their peers pooled
beyond noise: the tests of :mod:`cxreports.metrics.changes` (two-proportion for a rate, log
durations for a time), one Benjamini-Hochberg correction over every agent and figure, and a
material difference. A figure that is beyond noise against the agent's own baseline weeks
(tested in the same correction) but not against their peers reads *better* or *worse* than
their own weeks: a change the whole queue shares shows there, not as a focus area. An agent
below the minimum volume gets no comparison at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from cxreports.metrics.changes import MATERIAL, Sums, benjamini_hochberg, compare_means
from cxreports.metrics.volume import mix
from cxreports.schema import agent_labels, tame, tamed

#: The figures of a scorecard: column of the agent table, label, unit, which way is better,
#: and for a rate the column that counts its cases.
SCORED: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("handled", "Handled", "count", "neutral", None),
    ("aht_s", "Handle time, mean", "seconds", "lower", None),
    ("aht_median_s", "Handle time, median", "seconds", "lower", None),
    ("frt_median_s", "First response, median", "seconds", "lower", None),
    ("resolved_rate", "Resolved", "rate", "higher", "handled"),
    ("fcr_rate", "First-contact resolution", "rate", "higher", "handled"),
    ("sla_met_rate", "SLA met", "rate", "higher", "sla_eligible"),
    ("csat_rate", "CSAT (4-5 of 5)", "rate", "higher", "csat_responses"),
    ("transfer_rate", "Transferred", "rate", "lower", "handled"),
)

#: Durations tested on their logarithm: the figure they speak for, and the column of rows.
_DURATIONS = {"aht_median_s": "handled_time_s", "frt_median_s": "first_response_time_s"}

#: Fewest peers for a queue's own peer group; with fewer, every ranked agent is a peer.
MIN_PEERS = 3

FIGURES_SCHEMA = pl.Schema(
    {
        "metric": pl.String,
        "label": pl.String,
        "unit": pl.String,
        "now": pl.Float64,
        "low": pl.Float64,
        "high": pl.Float64,
        "baseline": pl.Float64,
        "peers": pl.Float64,
        "reading": pl.String,
    }
)


@dataclass(frozen=True)
class Card:
    """One agent's scorecard. ``figures`` (:data:`FIGURES_SCHEMA`): this week with its 95%
    interval, the agent's 8-week baseline and the peer median, and the reading (``strength``,
    ``focus``: against their peers; ``better`` or ``worse``: against their own baseline
    alone; or null)."""

    agent_id: str
    name: str
    team: str | None
    ranked: bool
    handled: int
    main_queue: str | None
    peers: int
    figures: pl.DataFrame
    strengths: tuple[str, ...]
    focus: tuple[str, ...]
    #: figures beyond noise against the agent's own baseline weeks but not against their
    #: peers (a change of the whole queue shows here): (label, ``better`` or ``worse``)
    own: tuple[tuple[str, str], ...]
    #: the agent's interactions this week (``WeeklyMetrics.rows``)
    rows: pl.DataFrame
    #: the interactions the agent's distributions are drawn against: their team's, or all
    #: agents' in the report's scope
    team_rows: pl.DataFrame
    #: first-level wrap-up categories: ``category``, ``count``, ``share``
    categories: pl.DataFrame
    #: handled per week, the baseline's weeks and this one: ``iso_week``, ``handled``
    volume: pl.DataFrame


@dataclass(frozen=True)
class Scorecards:
    """Every agent's card, ranked agents first (most handled first), and the number of tests
    the strengths and focus areas were found among."""

    cards: tuple[Card, ...]
    tests: int


def build(
    agents: pl.DataFrame,
    baseline: pl.DataFrame,
    rows: pl.DataFrame,
    categories: pl.DataFrame,
    volume: pl.DataFrame,
    baseline_weeks: int = 8,
) -> Scorecards:
    """The scorecards of a week.

    ``agents`` is ``WeeklyMetrics.agents`` (ranked, intervals, team), ``baseline`` the same
    breakdown over the baseline's weeks, ``rows`` the week's counted interactions
    (``WeeklyMetrics.rows``), ``categories`` the first-level wrap-up categories of those rows
    (``id``, ``value``) and ``volume`` handled per agent and week (``agent_id``, ``iso_week``,
    ``handled``, the weeks in order; ``part_week``: only part of the week is in the data).
    ``baseline_weeks`` (the baseline's weeks with data) turns the baseline's volume into a
    weekly one.
    """
    # each page is headed by the agent's name; two agents of one name, by it and their id
    agents = agents.filter(pl.col("agent_id").is_not_null()).with_columns(_label=agent_labels())
    if not agents.height:
        return Scorecards((), 0)
    main = (
        rows.filter(pl.col("agent_id").is_not_null())
        .group_by("agent_id", "queue_name")
        .len()
        .sort("len", "queue_name", descending=[True, False], nulls_last=True)
        .group_by("agent_id", maintain_order=True)
        .first()
        .select("agent_id", tamed(pl.col("queue_name")).alias("main_queue"))
    )
    agents = agents.join(main, on="agent_id", how="left")
    logs = log_sums(rows.lazy()).collect()
    stats = {r["agent_id"]: r for r in agents.join(logs, on="agent_id", how="left").to_dicts()}
    base = {r["agent_id"]: r for r in baseline.to_dicts()}
    ranked = [a for a, r in stats.items() if r["ranked"]]
    peers_of = {}
    for agent, r in stats.items():
        same = [p for p in ranked if p != agent and stats[p]["main_queue"] == r["main_queue"]]
        peers_of[agent] = same if len(same) >= MIN_PEERS else [p for p in ranked if p != agent]

    p_values: list[float] = []
    tests: dict[tuple[str, str], int] = {}
    own_tests: dict[tuple[str, str], int] = {}
    for agent in ranked:
        peers = peers_of[agent]
        if not peers:
            continue
        for metric, _, unit, better, n_col in SCORED:
            if better == "neutral" or metric in ("aht_s",):
                continue  # handle time is tested once, on the logarithm (aht_median_s)
            mine, theirs = _sums(stats, agent, metric, unit, n_col), Sums()
            for p in peers:
                theirs = theirs + _sums(stats, p, metric, unit, n_col)
            kind = "rate" if unit == "rate" else "duration"
            if (p := compare_means(mine, theirs, kind)) is not None:  # type: ignore[arg-type]
                tests[(agent, metric)] = len(p_values)
                p_values.append(p)
            # and against the agent's own baseline weeks, in the same correction
            if agent in base:
                before = _sums(base, agent, metric, unit, n_col)
                if (p := compare_means(mine, before, kind)) is not None:  # type: ignore[arg-type]
                    own_tests[(agent, metric)] = len(p_values)
                    p_values.append(p)
    found = benjamini_hochberg(p_values) if p_values else []

    weekly_volume = volume.partition_by("agent_id", as_dict=True)
    shown = [c for c in ("iso_week", "handled", "part_week") if c in volume.columns]
    by_agent = rows.partition_by("agent_id", as_dict=True)
    # each team's rows once, not once for every agent of the team; by the team's name as the
    # agents' table holds it (tamed)
    rows_of_team = (
        {
            (tame(k) if isinstance(k, str) else k,): v
            for (k,), v in rows.partition_by("team", as_dict=True).items()
        }
        if "team" in rows.columns
        else {}
    )
    cats = categories.join(rows.select("id", "agent_id"), on="id", how="inner")
    cats_by_agent = cats.partition_by("agent_id", as_dict=True)
    cards = []
    order = sorted(stats.values(), key=lambda r: (not r["ranked"], -r["handled"], r["agent_id"]))
    for r in order:
        agent = r["agent_id"]
        peers = peers_of[agent] if r["ranked"] else []
        figures, strengths, focus, own = [], [], [], []
        for metric, label, unit, better, _ in SCORED:
            values = [stats[p][metric] for p in peers if stats[p][metric] is not None]
            reading = None
            mine = r[metric]
            test = tests.get((agent, metric))
            median = _median(values)
            if (
                test is not None
                and found[test]
                and mine is not None
                and median is not None
                and _material(unit, mine, median)
            ):
                good = (mine > median) == (better == "higher")
                reading = "strength" if good else "focus"
                (strengths if good else focus).append(label)
            before = base.get(agent, {}).get(metric)
            test = own_tests.get((agent, metric))
            if (
                reading is None
                and test is not None
                and found[test]
                and mine is not None
                and before is not None
                and _material(unit, mine, before)
            ):
                # beyond noise against their own weeks, not against their peers: a change
                # of the whole queue, or of the agent that their peers share
                reading = "better" if (mine > before) == (better == "higher") else "worse"
                own.append((label, reading))
            figures.append(
                {
                    "metric": metric,
                    "label": label,
                    "unit": unit,
                    "now": _float(r[metric]),
                    "low": _float(r.get(f"{metric}_low")),
                    "high": _float(r.get(f"{metric}_high")),
                    "baseline": _baseline(base.get(agent, {}).get(metric), metric, baseline_weeks),
                    "peers": _median(values),
                    "reading": reading,
                }
            )
        mine_rows = by_agent.get((agent,), rows.clear())
        team = r.get("team")
        team_rows = rows_of_team.get((team,), rows) if team is not None else rows
        agent_cats = cats_by_agent.get((agent,))
        cards.append(
            Card(
                agent_id=agent,
                name=r["_label"],
                team=team,
                ranked=bool(r["ranked"]),
                handled=int(r["handled"]),
                main_queue=r["main_queue"],
                peers=len(peers),
                figures=pl.DataFrame(figures, schema=FIGURES_SCHEMA),
                strengths=tuple(strengths),
                focus=tuple(focus),
                own=tuple(own),
                rows=mine_rows,
                team_rows=team_rows,
                categories=_mix(agent_cats),
                volume=weekly_volume.get((agent,), volume.clear()).select(shown),
            )
        )
    return Scorecards(tuple(cards), len(p_values))


def log_sums(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Per agent, the count, sum and sum of squares of each tested duration's logarithm
    (``aht_median_s:n`` ...): what the tests of durations read."""
    return (
        rows.filter(pl.col("agent_id").is_not_null())
        .group_by("agent_id")
        .agg(
            expr
            for metric, column in _DURATIONS.items()
            for expr in (
                pl.col(column).log1p().count().alias(f"{metric}:n"),
                pl.col(column).log1p().sum().alias(f"{metric}:s"),
                (pl.col(column).log1p() ** 2).sum().alias(f"{metric}:q"),
            )
        )
    )


def _sums(stats: dict, agent: str, metric: str, unit: str, n_col: str | None) -> Sums:
    r = stats[agent]
    if unit == "rate":
        n = float(r[n_col] or 0)
        rate = r[metric]
        k = 0.0 if rate is None else round(rate * n)
        return Sums(n, k, k)  # successes are 1: their squares are themselves
    return Sums(
        float(r[f"{metric}:n"] or 0), float(r[f"{metric}:s"] or 0), float(r[f"{metric}:q"] or 0)
    )


def _baseline(value: object, metric: str, weeks: int) -> float | None:
    """The baseline's figure; its volume as a weekly average."""
    if value is None:
        return None
    return float(value) / max(weeks, 1) if metric == "handled" else float(value)  # type: ignore[arg-type]


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    return float(pl.Series(values, dtype=pl.Float64).median())  # type: ignore[arg-type]


def _material(unit: str, mine: float, peers: float) -> bool:
    if unit == "rate":
        return abs(mine - peers) >= MATERIAL["rate"]
    return peers > 0 and abs(mine / peers - 1) >= MATERIAL["duration"]


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _mix(cats: pl.DataFrame | None) -> pl.DataFrame:
    if cats is None or not cats.height:
        schema = {"category": pl.String, "count": pl.UInt32, "share": pl.Float64}
        return pl.DataFrame(schema=schema)
    return mix(cats, "value").rename({"value": "category"}).collect()
