"""What changed this week, and why: each headline change tested against noise, the tests
corrected for their number, and a change beyond noise decomposed into volume mix and rate
effects over queues, channels, hours and agents.

The method, in the words docs/metrics.md uses for a manager:

- **Is it noise?** A rate (SLA met, CSAT, resolved, transferred) is compared by a
  two-proportion z-test; a duration (handle time, first response) by a z-test on the logarithm
  of the durations (a few very long emails cannot make or hide a change); the volume by a
  Poisson test. This week is compared with last week and with the 8 weeks before it.
- **Many tests, few false alarms.** Every test made (each figure, each comparison, and each
  queue, channel, hour and agent that could explain it) enters one Benjamini-Hochberg
  correction at a 5% false-discovery rate; only what survives it is said, and only when the
  change is large enough to matter (:data:`MATERIAL`).
- **Why.** A change of a rate or an average is split exactly into a *mix* part (the share of
  work moved between cells with different levels) and a *rate* part (the level moved within
  cells); the cells that carry most of it are named, with the hours where a rate change is
  concentrated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from cxreports.metrics.volume import WEEKDAYS
from cxreports.schema import agent_labels, isolated, tame
from cxreports.units import duration

#: The false-discovery rate of the Benjamini-Hochberg correction over all tests of a week.
FDR = 0.05
#: Weeks before this one that make the baseline.
BASELINE_WEEKS = 8
#: Fewest cases on each side for a test: below it nothing is tested, nothing claimed.
MIN_CASES = 20
#: The smallest change worth a sentence, beyond noise or not: a rate in points (0.01 is one
#: percentage point), a duration or the volume as a relative change.
MATERIAL = {"rate": 0.01, "duration": 0.05, "count": 0.05}
#: Most sentences the section holds (the largest changes first).
MAX_CLAIMS = 6

Kind = Literal["rate", "duration", "count"]


@dataclass(frozen=True)
class Measure:
    """A headline figure as the tests see it: a value per interaction (null when the
    interaction is not in its denominator), averaged per period."""

    metric: str
    label: str
    kind: Kind
    value: pl.Expr


_SCORE = pl.col("csat_score")
MEASURES: tuple[Measure, ...] = (
    Measure(
        "sla_met_rate", "SLA met", "rate",
        pl.when(pl.col("sla_status").is_not_null()).then(pl.col("sla_status") == "meet"),
    ),
    Measure(
        "csat_rate", "CSAT (4-5 of 5)", "rate",
        pl.when(_SCORE.is_not_null()).then(_SCORE >= 4),
    ),
    Measure("resolved_rate", "Resolved", "rate", pl.col("is_resolved")),
    Measure("transfer_rate", "Transferred", "rate", pl.col("is_transferred")),
    Measure("aht_s", "Handle time", "duration", pl.col("handled_time_s").log1p()),
    Measure(
        "frt_mean_s", "First response", "duration", pl.col("first_response_time_s").log1p()
    ),
)  # fmt: skip

#: Each figure tested (the volume, then :data:`MEASURES`) by the word a sentence calls it.
NAMES = {
    "count": "volume",
    "sla_met_rate": "SLA met",
    "csat_rate": "CSAT",
    "resolved_rate": "resolved",
    "transfer_rate": "transferred",
    "aht_s": "handle time",
    "frt_mean_s": "first response",
}
#: The figures tested, in a sentence.
TESTED = ", ".join(list(NAMES.values())[:-1]) + " and " + list(NAMES.values())[-1]

#: The periods a week's rows fall in: this week, last week, the baseline's older weeks; and
#: the baseline's weeks together (the medians the sentences quote).
_PERIOD = pl.Enum(["now", "last", "older", "baseline"])

#: Each duration measure's column of the rows, whose medians the sentences quote (the medians
#: the report shows beside the means).
_DURATIONS = {"aht_s": "handled_time_s", "frt_mean_s": "first_response_time_s"}

#: The cells a change is looked for in, by the column that names them, in the order tried.
DIMENSIONS = {"queue_name": "queue", "channel": "channel", "hour": "hour", "agent": "agent"}

#: Columns of :func:`find`'s result.
SCHEMA = pl.Schema(
    {
        "metric": pl.String,
        "comparison": pl.String,
        "sentence": pl.String,
        "dimension": pl.String,
        "now": pl.Float64,
        "before": pl.Float64,
        "p_value": pl.Float64,
    }
)


@dataclass(frozen=True)
class Changes:
    """The claims of a week (``claims``, :data:`SCHEMA`, the largest change first) and how
    many tests were made to find them."""

    claims: pl.DataFrame
    tests: int
    baseline_weeks: int
    #: the data begins in this week: last week is unknown, not a week of nothing, and
    #: nothing was compared with it
    first_week: bool = False
    #: what became of each headline test, by (metric, comparison): ``"too few"`` (no test:
    #: fewer than :data:`MIN_CASES` a side), ``"noise"`` (tested, within noise after the
    #: correction) or ``"beyond"`` (beyond noise; said unless too small to matter or past
    #: :data:`MAX_CLAIMS`)
    headline: dict[tuple[str, str], str] = field(default_factory=dict)
    #: the week lies before the data's first interaction or after its last: nothing in it
    #: is known, nothing was compared
    outside: Literal["before", "after"] | None = None
    #: the data ends part way through this week: every week was compared only up to this
    #: point of it (local weekday and time, "Mon 10:42")
    until: str | None = None

    @property
    def sentences(self) -> list[str]:
        """The claims as sentences, or the one that says nothing moved beyond noise."""
        if self.claims.height:
            return self.claims["sentence"].to_list()
        if self.outside == "before":
            return ["Nothing to compare: the data begins after this week."]
        if self.outside == "after":
            return ["Nothing to compare: the data ends before this week."]
        if self.first_week:
            return [
                "No earlier week to compare with: the data begins in this week (or part way "
                "through the last), so last week is unknown, not a week without contacts."
            ]
        return [nothing_moved(self.tests, self.baseline_weeks, self.until, self.untested)]

    @property
    def untested(self) -> list[str]:
        """The figures (:data:`NAMES`) no comparison could test: too few cases in each."""
        fates: dict[str, set[str]] = {}
        for (metric, _), fate in self.headline.items():
            fates.setdefault(metric, set()).add(fate)
        return [NAMES[m] for m in NAMES if fates.get(m) == {"too few"}]


def nothing_moved(
    tests: int, baseline_weeks: int, until: str | None = None, untested: Sequence[str] = ()
) -> str:
    """The sentence for a week without a change beyond noise (or with too few interactions
    to make a single comparison); ``until``: the point of every week compared, when the data
    ends part way through this one; ``untested``: the figures too few cases could test."""
    if not tests or len(untested) == len(NAMES):
        return (
            "Too few interactions to tell a change from noise: no figure has the 20 cases a "
            "side a comparison needs."
        )
    against = "last week" + (
        f" or the {baseline_weeks}-week baseline" if baseline_weeks > 1 else ""
    )
    tested = [n for n in NAMES.values() if n not in untested]
    if len(tested) == 1:
        figures = f"{tested[0]} does not differ"
    else:
        figures = f"none of {', '.join(tested[:-1])} or {tested[-1]} differs"
    head = "Nothing moved beyond noise"
    if until:
        head += f", comparing each week up to {until} (where the data ends)"
    said = (
        f"{head}: {figures} from {against} by more than chance would explain ({tests:,} "
        f"comparison{'s' if tests != 1 else ''} checked)"
    )
    if untested:
        said += (
            f"; {and_(list(untested))} could not be tested (fewer than {MIN_CASES} cases on a "
            "side, or too few of one outcome)"
        )
    return said + "."


def find(
    rows: pl.DataFrame | pl.LazyFrame,
    until: str | None = None,
    baseline_weeks: int | None = None,
) -> Changes:
    """The changes of the current week (``_week`` 0) against last week (1) and the baseline
    (1 to :data:`BASELINE_WEEKS`), beyond noise.

    ``rows`` are counted interactions with the outcome columns, the local ``weekday`` and
    ``hour``, the ``agent`` (as the report names them), or else its ``agent_id`` and
    ``agent_name`` (named here, per agent rather than per row), and ``_week``: weeks back from
    this one. ``until`` names the point of the week the rows of every week stop at, when the
    data ends part way through this one ("Mon 10:42"): the sentences say so.
    ``baseline_weeks``: the weeks before this one with rows (those with none before
    ``until`` included: a week of 0 by then, not one fewer); by default, those with rows.
    """
    week_index = "_week"
    rows = rows.lazy()
    # an agent's cells are summed by id and name, then named: the same cells as naming every
    # row first (two agents of one name are two cells), for a tenth of the work
    named = "agent" in rows.collect_schema()
    agent = ["agent"] if named else ["agent_id", "agent_name"]
    # the period as an enum: its groupings hash a small number, not a text, per row
    period = (
        pl.when(pl.col(week_index) == 0)
        .then(pl.lit("now", _PERIOD))
        .when(pl.col(week_index) == 1)
        .then(pl.lit("last", _PERIOD))
        .otherwise(pl.lit("older", _PERIOD))
    )
    # each measure's value once, then plain sums: the groupings below only add up columns
    frame = (
        rows.filter(pl.col(week_index).is_between(0, BASELINE_WEEKS))
        .select(
            period.alias("_period"),
            pl.col(week_index),
            *(d for d in DIMENSIONS if d != "agent"),
            *agent,
            "weekday",
            "handled_time_s",
            "first_response_time_s",
            *(m.value.cast(pl.Float64).alias(m.metric) for m in MEASURES),
        )
        .collect()
    )
    aggs = [pl.len().alias("count")]
    for m in MEASURES:
        v = pl.col(m.metric)
        aggs += [
            v.count().alias(f"{m.metric}:n"),
            v.sum().alias(f"{m.metric}:s"),
            (v * v).sum().alias(f"{m.metric}:q"),
        ]
    lazy = frame.lazy()
    # queues, channels and hours from one pass: sums of the (queue, channel, hour) cells
    cells = ("queue_name", "channel", "hour")
    queries = [
        lazy.group_by("_period", *cells).agg(aggs),
        lazy.group_by("_period", *agent).agg(aggs),
    ]
    queries.append(lazy.select(pl.col(week_index).filter(pl.col(week_index) > 0).n_unique()))
    # the medians the sentences quote: this week, last week and the baseline's weeks
    medians = [pl.col(column).median().alias(m) for m, column in _DURATIONS.items()]
    queries.append(
        pl.concat(
            [
                lazy.group_by("_period").agg(medians),
                lazy.filter(pl.col("_period") != "now").select(
                    pl.lit("baseline", _PERIOD).alias("_period"), *medians
                ),
            ]
        )
    )
    fine, by_agent, weeks, medians_frame = pl.collect_all(queries)
    summed = [pl.col(c).sum() for c in fine.columns if c not in ("_period", *cells)]
    labels = None
    if not named:
        named_as = by_agent.select(*agent, agent=agent_labels())
        by_agent = (
            by_agent.with_columns(agent=named_as["agent"]).group_by("_period", "agent").agg(summed)
        )
        labels = named_as.unique()
    totals = fine.group_by("_period").agg(summed)
    by_dim = {dim: fine.group_by("_period", dim).agg(summed) for dim in cells}
    if baseline_weeks is None:
        baseline_weeks = int(weeks.item())
    study = _Study(
        totals, {**by_dim, "agent": by_agent}, baseline_weeks, medians_frame, labels, until
    )
    return study.run(lazy)


@dataclass(frozen=True, slots=True)
class Sums:
    """A measure's sums over a period and a cell: cases ``n``, sum ``s`` and sum of squares
    ``q`` (for a rate, successes are 1 and their squares too); what every test here reads."""

    n: float = 0.0
    s: float = 0.0
    q: float = 0.0

    def __add__(self, other: Sums) -> Sums:
        return Sums(self.n + other.n, self.s + other.s, self.q + other.q)

    @property
    def mean(self) -> float | None:
        return self.s / self.n if self.n else None


def _stats(row: dict, metric: str) -> Sums:
    if metric == "count":
        return Sums(float(row["count"] or 0))
    return Sums(
        float(row[f"{metric}:n"] or 0),
        float(row[f"{metric}:s"] or 0),
        float(row[f"{metric}:q"] or 0),
    )


def p_value(z: float) -> float:
    """Two-sided p-value of a standard normal ``z``.

    Examples
    --------
    >>> round(p_value(1.959963984540054), 3)
    0.05
    """
    return math.erfc(abs(z) / math.sqrt(2))


def compare_means(now: Sums, before: Sums, kind: Kind) -> float | None:
    """p-value of the difference of two means: pooled two-proportion test for a rate, Welch's
    z for (log) durations. None when either side has fewer than :data:`MIN_CASES` cases, or a
    rate too close to 0 or 1 for the normal approximation."""
    if now.n < MIN_CASES or before.n < MIN_CASES:
        return None
    if kind == "rate":
        pooled = (now.s + before.s) / (now.n + before.n)
        if min(pooled, 1 - pooled) * min(now.n, before.n) < 5:
            return None
        se = math.sqrt(pooled * (1 - pooled) * (1 / now.n + 1 / before.n))
    else:
        var = [max((x.q - x.s * x.s / x.n) / (x.n - 1), 0.0) for x in (now, before)]
        se = math.sqrt(var[0] / now.n + var[1] / before.n)
    if se == 0:
        return None
    return p_value((now.mean - before.mean) / se)  # type: ignore[operator]


def compare_counts(now: float, before: float, weeks: int) -> float | None:
    """p-value of a week's count against ``before`` counted over ``weeks`` weeks (Poisson:
    given the total, this week's share is binomial with 1 / (weeks + 1))."""
    total = now + before
    p = 1 / (weeks + 1)
    if total * p * (1 - p) < 10:
        return None
    return p_value((now - total * p) / math.sqrt(total * p * (1 - p)))


def benjamini_hochberg(p_values: Sequence[float], q: float = FDR) -> list[bool]:
    """Which of ``p_values`` are discoveries at false-discovery rate ``q``.

    Examples
    --------
    >>> benjamini_hochberg([0.001, 0.04, 0.03, 0.2])
    [True, False, False, False]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    cutoff = -1
    for rank, i in enumerate(order, start=1):
        if p_values[i] <= rank / m * q:
            cutoff = rank
    found = [False] * m
    for rank, i in enumerate(order, start=1):
        found[i] = rank <= cutoff
    return found


@dataclass
class _Cell:
    name: str
    now: Sums
    before: Sums
    weight_now: float
    weight_before: float
    mix: float
    rate: float
    rate_test: int | None  # index of its rate test in the family
    share_test: int | None  # of its share test


@dataclass
class _Candidate:
    measure: str
    label: str
    kind: Kind
    comparison: str
    now: float
    before: float
    test: int
    cells: dict[str, list[_Cell]]


class _Study:
    def __init__(
        self,
        totals: pl.DataFrame,
        by_dim: dict[str, pl.DataFrame],
        baseline_weeks: int,
        medians: pl.DataFrame,
        labels: pl.DataFrame | None = None,
        until: str | None = None,
    ) -> None:
        self.totals = {r["_period"]: r for r in totals.iter_rows(named=True)}
        # each cell's rows by period, read once: every measure and comparison reads them
        self.by_dim: dict[str, dict[object, dict[str, dict]]] = {}
        for dim, frame in by_dim.items():
            rows = self.by_dim[dim] = {}
            for r in frame.iter_rows(named=True):
                rows.setdefault(r[dim], {})[r["_period"]] = r
        self.baseline_weeks = baseline_weeks
        self.medians = {r["_period"]: r for r in medians.iter_rows(named=True)}
        # each agent's id and name by the name a cell has, when the rows have no ``agent``
        self.labels = labels
        self.until = until
        self.p: list[float] = []
        #: each headline figure's test, by (metric, comparison); None where none was made
        self.headline: dict[tuple[str, str], int | None] = {}

    def _test(self, p: float | None) -> int | None:
        if p is None:
            return None
        self.p.append(p)
        return len(self.p) - 1

    def _period(self, row_of: dict, comparison: str, metric: str) -> Sums:
        last = _stats(row_of["last"], metric) if "last" in row_of else Sums()
        if comparison == "last week":
            return last
        older = _stats(row_of["older"], metric) if "older" in row_of else Sums()
        return last + older

    def run(self, lazy: pl.LazyFrame) -> Changes:
        if "now" not in self.totals:
            return Changes(pl.DataFrame(schema=SCHEMA), 0, self.baseline_weeks, until=self.until)
        comparisons = ["last week"]
        if self.baseline_weeks > 1:
            comparisons.append(f"the {self.baseline_weeks}-week baseline")
        candidates = []
        for comparison in comparisons:
            for m in (None, *MEASURES):
                candidates += self._candidate(m, comparison)
        found = benjamini_hochberg(self.p)
        headline = {
            key: "too few" if test is None else ("beyond" if found[test] else "noise")
            for key, test in self.headline.items()
        }
        kept = [
            c
            for c in candidates
            if found[c.test]
            and _size(c) >= MATERIAL[c.kind]
            # a duration the report's medians would not show is not said
            and (c.kind != "duration" or self._medians_agree(c))
        ]
        claims = []
        # the sentences (which locate each change in days and hours) only for what is said
        for c in _one_per_metric(kept, self.p)[:MAX_CLAIMS]:
            sentence, dimension = self._sentence(c, found, lazy)
            claims.append(
                {
                    "metric": c.measure,
                    "comparison": c.comparison,
                    "sentence": sentence,
                    "dimension": dimension,
                    "now": c.now,
                    "before": c.before,
                    "p_value": self.p[c.test],
                }
            )
        return Changes(
            pl.DataFrame(claims, schema=SCHEMA), len(self.p), self.baseline_weeks,
            headline=headline, until=self.until,
        )  # fmt: skip

    def _medians_agree(self, c: _Candidate) -> bool:
        now, before = _median(c, "now", self.medians), _median(c, "before", self.medians)
        if not now or not before:
            return False
        ratio = now / before - 1
        return ratio * (c.now - c.before) > 0 and abs(ratio) >= MATERIAL["duration"]

    def _candidate(self, m: Measure | None, comparison: str) -> list[_Candidate]:
        metric = "count" if m is None else m.metric
        kind: Kind = "count" if m is None else m.kind
        weeks = 1 if comparison == "last week" else self.baseline_weeks
        now = _stats(self.totals["now"], metric)
        before = self._period(self.totals, comparison, metric)
        if kind == "count":
            test = self._test(compare_counts(now.n, before.n, weeks))
            values = (now.n, before.n / weeks)
        else:
            test = self._test(compare_means(now, before, kind))
            values = (now.mean, before.mean)  # type: ignore[assignment]
        self.headline[metric, comparison] = test
        if test is None:
            return []
        cells = {dim: self._cells(dim, metric, kind, comparison, weeks) for dim in DIMENSIONS}
        label = "Volume" if m is None else m.label
        return [_Candidate(metric, label, kind, comparison, *values, test, cells)]  # type: ignore[arg-type]

    def _cells(self, dim: str, metric: str, kind: Kind, comparison: str, weeks: int) -> list[_Cell]:
        rows = self.by_dim[dim]
        if sum(name is not None for name in rows) < 2:
            # one queue (a report of the Sales queue): its cell is the whole, whose tests would
            # only repeat the headline's, and "all of it is in the Sales queue" says nothing
            return []
        now_total = _stats(self.totals["now"], metric)
        before_total = self._period(self.totals, comparison, metric)
        # mix is measured against the overall level: a cell that loses share but sits at the
        # average moves nothing (the shares' changes add up to zero, so the total is the same)
        level = ((now_total.mean or 0.0) + (before_total.mean or 0.0)) / 2
        cells = []
        for name, by_period in rows.items():
            if name is None:
                continue
            now = _stats(by_period["now"], metric) if "now" in by_period else Sums()
            before = self._period(by_period, comparison, metric)
            if kind == "count":
                w1, w0 = now.n, before.n / weeks
                cells.append(
                    _Cell(str(name), now, before, w1, w0, 0.0, w1 - w0,
                          self._test(compare_counts(now.n, before.n, weeks)), None)
                )  # fmt: skip
                continue
            w1 = now.n / now_total.n if now_total.n else 0.0
            w0 = before.n / before_total.n if before_total.n else 0.0
            r1, r0 = now.mean, before.mean
            if r1 is None and r0 is None:
                continue
            r1 = r0 if r1 is None else r1
            r0 = r1 if r0 is None else r0
            mix = (w1 - w0) * ((r1 + r0) / 2 - level)  # type: ignore[operator]
            rate = (w1 + w0) / 2 * (r1 - r0)  # type: ignore[operator]
            share = Sums(now_total.n, now.n), Sums(before_total.n, before.n)
            cells.append(
                _Cell(str(name), now, before, w1, w0, mix, rate,
                      self._test(compare_means(now, before, kind)),
                      self._test(compare_means(*share, "rate")))
            )  # fmt: skip
        return cells

    def _sentence(self, c: _Candidate, found: list[bool], lazy: pl.LazyFrame) -> tuple[str, str]:
        change = c.now - c.before
        up = change > 0
        against = c.comparison
        amount = _amount(c, change)
        if c.kind == "duration":  # said with the medians the report shows beside the means
            now, before = _median(c, "now", self.medians), _median(c, "before", self.medians)
            amount = f"{abs(now / before - 1):.0%}" if now and before else amount
        # a count from 0 has no share to rise by: "rose against last week (63 from 0)"
        head = " ".join(filter(None, (c.label, "rose" if up else "fell", amount)))
        head += f" against {against}" + (f" up to {self.until}" if self.until else "")
        before = _level(c, "before", self.medians).removeprefix("median ")
        head += f" ({_level(c, 'now', self.medians)} from {before})"
        head += ", beyond noise"
        why, dimension = self._why(c, found, lazy)
        return head + (f"; {why}" if why else "") + ".", dimension

    def _why(self, c: _Candidate, found: list[bool], lazy: pl.LazyFrame) -> tuple[str, str]:
        change = c.now - c.before
        sig = {  # a cell explains only through what is beyond noise in it
            dim: [
                cell
                for cell in cells
                if (cell.rate_test is not None and found[cell.rate_test])
                or (cell.share_test is not None and found[cell.share_test])
            ]
            for dim, cells in c.cells.items()
        }
        if c.kind != "count":
            # mix first: a shift of work toward a slower channel is not agents getting slower
            for dim in ("channel", "queue_name"):
                cells = c.cells[dim]
                mix = sum(cell.mix for cell in cells)
                if change and mix / change >= 0.5:
                    movers = [
                        cell for cell in sig[dim]
                        if cell.share_test is not None and found[cell.share_test]
                        and cell.mix * change > 0
                    ]  # fmt: skip
                    if movers:
                        return self._mix_sentence(c, dim, movers, sig[dim], found), dim
        best: tuple[float, str, list[_Cell]] | None = None
        for dim in DIMENSIONS:
            if dim == "agent" and best is not None:
                break  # agents only when no queue, channel or hour explains it
            ranked = sorted(sig[dim], key=lambda cell: -(cell.mix + cell.rate) * change)
            picked = [cell for cell in ranked[:2] if (cell.mix + cell.rate) / change >= 0.15]
            if picked:
                share = sum(cell.mix + cell.rate for cell in picked) / change
                if best is None or share > best[0] + 0.1:
                    best = (share, dim, picked)
        if best is None:
            return "no single queue, channel, hour or agent accounts for it", ""
        share, dim, picked = best
        names = _names(dim, [cell.name for cell in picked])
        text = f"{min(share, 1.0):.0%} of the {'rise' if change > 0 else 'fall'} is in {names}"
        cell = picked[0]
        if c.kind == "count":
            if len(picked) == 1:
                per = " a week" if "baseline" in c.comparison else ""
                text += f" ({cell.weight_now:,.0f} from {cell.weight_before:,.0f}{per})"
            return text, dim
        # the first cell's shift says what moved; each named cell where it is beyond noise
        # gives its own figures, named when there are two
        rate = cell.rate_test is not None and found[cell.rate_test]
        if rate:
            what = _running(c.label)
            moved = [x for x in picked if x.rate_test is not None and found[x.rate_test]]
            if c.kind == "duration":  # the cell's medians, as the report's tables show them
                figures = [(x, *self._cell_medians(lazy, dim, x.name, c)) for x in moved]
            else:
                figures = [(x, _plain(c, x.before.mean), _plain(c, x.now.mean)) for x in moved]
        elif cell.share_test is not None and found[cell.share_test]:
            what = "the share of interactions"
            moved = [x for x in picked if x.share_test is not None and found[x.share_test]]
            figures = [(x, f"{x.weight_before:.0%}", f"{x.weight_now:.0%}") for x in moved]
        else:
            return text, dim
        parts = []
        for x, before, now in figures:
            part = f"from {before} to {now}"
            if len(picked) > 1:
                part += f" {_AT.get(dim, 'in')} {_names(dim, [x.name])}"
            if x is cell and rate and dim in _WHEN_DIMENSIONS:
                when = _when(self._cell_rows(lazy, dim, cell.name), c)
                if when:
                    part += f", mostly {when}" + ("," if len(figures) > 1 else "")
            parts.append(part)
        return f"{text}, where {what} went {' and '.join(parts)}", dim

    def _mix_sentence(
        self, c: _Candidate, dim: str, movers: list[_Cell], sig: list[_Cell], found: list[bool]
    ) -> str:
        cell = max(movers, key=lambda x: abs(x.mix))
        name = _names(dim, [cell.name])
        rest = sum(x.before.s + x.now.s for x in self._others(c, dim, cell.name))
        rest_n = sum(x.before.n + x.now.n for x in self._others(c, dim, cell.name))
        level = (cell.now.s + cell.before.s) / max(cell.now.n + cell.before.n, 1)
        others = rest / rest_n if rest_n else None
        what = {"duration": "takes longer" if level > (others or 0) else "is quicker"}.get(
            c.kind, "runs higher" if level > (others or 0) else "runs lower"
        )
        text = (
            f"it is mostly mix: the share of interactions in {name} went from "
            f"{cell.weight_before:.0%} to {cell.weight_now:.0%}, and {name} {what}"
        )
        if others is not None:
            text += f" ({_plain(c, level)} against {_plain(c, others)} elsewhere)"
        if not any(x.rate_test is not None and found[x.rate_test] for x in sig):
            text += (
                f"; within each {DIMENSIONS[dim]}, {_running(c.label)} did not change beyond noise"
            )
        return text

    def _others(self, c: _Candidate, dim: str, name: str) -> list[_Cell]:
        return [x for x in c.cells[dim] if x.name != name]

    def _cell_medians(
        self, lazy: pl.LazyFrame, dim: str, name: str, c: _Candidate
    ) -> tuple[str, str]:
        """A cell's median duration before (last week or the baseline's weeks) and now."""
        before = pl.col("_period") == "last" if c.comparison == "last week" else pl.lit(True)
        value = pl.col(_DURATIONS[c.measure])
        now = pl.col("_period") == "now"
        row = (
            self._cell_rows(lazy, dim, name)
            .select(
                value.filter(~now & before).median().alias("before"),
                value.filter(now).median().alias("now"),
            )
            .collect()
            .row(0)
        )
        return tuple("—" if v is None else duration(v) for v in row)  # type: ignore[return-value]

    def _cell_rows(self, lazy: pl.LazyFrame, dim: str, name: str) -> pl.LazyFrame:
        """The rows of a cell: those whose ``dim`` is ``name``."""
        if dim == "agent" and self.labels is not None:
            pairs = self.labels.filter(pl.col("agent") == name).drop("agent")
            return lazy.join(pairs.lazy(), on=pairs.columns, how="semi", nulls_equal=True)
        return lazy.filter(pl.col(dim).cast(pl.String) == name)


#: The least share of a cell's change this week that the days and hours a sentence names
#: ("mostly Tue 14:00–17:00") must hold; below it the change is spread over the week.
MOSTLY = 2 / 3
#: The most days a sentence names hours of ("Tue and Wed 14:00–17:00"); a change found in
#: the hours of more days is placed by its days and its hours of the day, or not at all.
MOST_DAYS_OF_SLOTS = 3


def _when(cell: pl.LazyFrame, c: _Candidate) -> str:
    """The days and hours of this week where a cell's change sits (``cell``: its rows).

    The cell's (weekday, hour) slots of the week are each compared with the cell's own level
    before, Benjamini-Hochberg over the slots; the slots beyond noise in the direction of the
    change are named. When slots are too small to test, the weekdays and the hours of the day
    are compared on their own instead ("Mon–Wed, 09:00–18:00").
    """
    v = pl.col(c.measure)
    before = (
        cell.filter(pl.col("_period") != "now") if "baseline" in c.comparison
        else cell.filter(pl.col("_period") == "last")
    )  # fmt: skip
    sums = [v.count().alias("n"), v.sum().alias("s"), (v * v).sum().alias("q")]
    now = cell.filter(pl.col("_period") == "now")
    keys = (["weekday", "hour"], ["weekday"], ["hour"])
    *frames, ref = pl.collect_all(
        [now.group_by(k).agg(sums).sort(k) for k in keys] + [before.select(sums)]
    )
    reference = Sums(*(float(x or 0) for x in ref.row(0)))
    change = c.now - c.before

    def beyond_noise(frame: pl.DataFrame, key: list[str]) -> list[tuple]:
        tested = []
        for r in frame.iter_rows(named=True):
            slot = Sums(float(r["n"]), float(r["s"] or 0), float(r["q"] or 0))
            p = compare_means(slot, reference, c.kind)  # type: ignore[arg-type]
            if p is not None and slot.mean is not None and reference.mean is not None:
                tested.append((tuple(r[k] for k in key), p, slot.mean - reference.mean))
        found = benjamini_hochberg([t[1] for t in tested]) if tested else []
        return [k for (k, _, diff), f in zip(tested, found, strict=True) if f and diff * change > 0]

    def concentrated(frame: pl.DataFrame, key: list[str], found: list[tuple]) -> list[tuple]:
        # "mostly" says where the change sits: the named slots must hold most of it (a
        # change spread over the week has its noisiest slots found too, holding a part), and
        # leave some of the cell's days or hours out (a change of every one sits nowhere)
        named = set(found)
        if not found or reference.mean is None or len(named) == frame.height:
            return []
        moved = {True: 0.0, False: 0.0}
        for r in frame.iter_rows(named=True):
            moved[tuple(r[k] for k in key) in named] += (r["s"] or 0) - r["n"] * reference.mean
        total = moved[True] + moved[False]
        return found if total and moved[True] / total >= MOSTLY else []

    slots = beyond_noise(frames[0], keys[0])
    said = _slots_text(concentrated(frames[0], keys[0], slots))  # type: ignore[arg-type]
    # slots on more days than a reader takes in at once: said by days and hours instead
    if slots and len({day for day, _ in slots}) <= MOST_DAYS_OF_SLOTS:
        return said
    days = [d for (d,) in concentrated(frames[1], keys[1], beyond_noise(frames[1], keys[1]))]
    hours = [h for (h,) in concentrated(frames[2], keys[2], beyond_noise(frames[2], keys[2]))]
    return ", ".join(p for p in (_day_text(days), ", ".join(_hour_spans(hours))) if p)


def _day_text(days: list[int]) -> str:
    """Weekdays as a sentence names them: ``[1, 2, 3]`` -> ``Mon–Wed``, ``[2, 3]`` -> ``Tue and
    Wed``."""
    runs: list[list[int]] = []
    for d in sorted(days):
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    names = []
    for run in runs:
        if len(run) >= 3:
            names.append(f"{WEEKDAYS[run[0] - 1]}–{WEEKDAYS[run[-1] - 1]}")
        else:
            names += [WEEKDAYS[d - 1] for d in run]
    return and_(names) if names else ""


def _slots_text(slots: list[tuple[int, int]]) -> str:
    """Weekday and hour slots as a reader says them.

    Examples
    --------
    >>> _slots_text([(2, 14), (2, 15), (2, 16), (3, 14), (3, 15), (3, 16)])
    'Tue and Wed 14:00–17:00'
    >>> _slots_text([(1, 9), (5, 20)])
    'Mon 09:00–10:00 and Fri 20:00–21:00'
    """
    by_day: dict[int, list[int]] = {}
    for day, hour in sorted(slots):
        by_day.setdefault(day, []).append(hour)
    spans = {day: ", ".join(_hour_spans(hours)) for day, hours in by_day.items()}
    if not spans:
        return ""
    if len(set(spans.values())) == 1:  # the same hours each day
        return f"{and_([WEEKDAYS[d - 1] for d in spans])} {next(iter(spans.values()))}"
    return and_([f"{WEEKDAYS[d - 1]} {hours}" for d, hours in spans.items()])


def _hour_spans(hours: list[int]) -> list[str]:
    spans: list[list[int]] = []
    for h in hours:
        if spans and h == spans[-1][1]:
            spans[-1][1] = h + 1
        else:
            spans.append([h, h + 1])
    return [f"{a:02d}:00–{b:02d}:00" for a, b in spans]


def and_(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


#: How a sentence puts a cell after a figure: "in the email channel", "for Dana Lee".
_AT = {"agent": "for", "hour": "at"}
#: Dimensions whose cells a sentence places in the week's days and hours (see :func:`_when`).
_WHEN_DIMENSIONS = ("queue_name", "channel", "agent")


def _names(dim: str, names: list[str]) -> str:
    """Cells as a sentence names them: ``the Billing queue``, ``the email and voice
    channels``, ``14:00–15:00``, ``Dana Lee``."""
    if dim == "hour":
        return and_([f"{int(n):02d}:00–{int(n) + 1:02d}:00" for n in names])
    # a right-to-left name leaves the sentence in order; a pile of marks stays on its line
    names = [isolated(tame(n)) for n in names]
    if dim == "agent":
        return and_(names)
    kind = DIMENSIONS[dim]
    return f"the {and_(names)} {kind}{'s' if len(names) > 1 else ''}"


def _running(label: str) -> str:
    """A label inside a sentence: ``handle time``, but ``SLA met`` and ``CSAT`` as written."""
    first = label.split()[0]
    return label if first.isupper() else label[0].lower() + label[1:]


def _size(c: _Candidate) -> float:
    """How large a change is: points for a rate, a ratio for a duration or the volume."""
    change = c.now - c.before
    if c.kind == "rate":
        return abs(change)
    if c.kind == "duration":  # a difference of log durations is a ratio of typical durations
        return abs(math.expm1(change))
    return abs(change) / c.before if c.before else math.inf


def _amount(c: _Candidate, change: float) -> str:
    if c.kind == "rate":
        return f"{abs(change) * 100:.1f} pp"
    if c.kind == "count":
        return f"{abs(change) / c.before:.0%}" if c.before else ""
    # a log-duration mean: its change is a ratio of typical durations
    return f"{abs(math.expm1(change)):.0%}"


def _level(c: _Candidate, which: str, medians: dict) -> str:
    value = c.now if which == "now" else c.before
    if c.kind == "rate":
        return f"{value:.1%}"
    if c.kind == "count":
        return f"{value:,.0f}" + (
            " a week" if "baseline" in c.comparison and which == "before" else ""
        )
    return f"median {duration(_median(c, which, medians))}"


def _median(c: _Candidate, which: str, medians: dict) -> float | None:
    """The median duration of this week or of the comparison's weeks."""
    period = "now" if which == "now" else ("last" if c.comparison == "last week" else "baseline")
    return medians.get(period, {}).get(c.measure)


def _plain(c: _Candidate, value: float | None) -> str:
    if value is None:
        return "—"
    if c.kind == "rate":
        return f"{value:.0%}"
    if c.kind == "duration":
        return duration(math.expm1(value))
    return f"{value:,.0f}"


def _one_per_metric(candidates: list[_Candidate], p: list[float]) -> list[_Candidate]:
    """A figure is said once: against last week if that is beyond noise, else against the
    baseline; the strongest evidence first."""
    seen: set[str] = set()
    out = []
    for c in sorted(candidates, key=lambda c: (c.comparison != "last week", p[c.test])):
        if c.measure in seen:
            continue
        seen.add(c.measure)
        out.append(c)
    return sorted(out, key=lambda c: p[c.test])
