"""Targets: a bound per metric, optionally per queue, channel or team, and the week's status.

A target reads ``sla_met_rate >= 0.80`` or ``aht_s <= 600``: a metric of the breakdowns (see
docs/metrics.md), a direction and a bound. It may carry an "at risk" band on the met side
(``at_risk = 0.05``: a rate of 0.80 to 0.85 against ``>= 0.80`` is met but at risk) and a scope
(one queue, channel or team; the whole week by default). On the command line::

    --target "sla_met_rate >= 0.80"  --target "aht_s <= 600 at_risk=30 queue='Tier 1 Support'"

In the weekly config, ``[[targets]]`` tables: ``metric``, ``min`` or ``max``, ``at_risk``, and
``queue``, ``channel`` or ``team``. Each is checked before any data is read.

:func:`evaluate` gives each target's status for a week, ``met``, ``at risk``, ``missed`` or
``no data``, and for a rate whether its 95% interval still reaches the bound: a miss on 6
interactions is not a miss on 600.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import polars as pl

from cxreports.exceptions import ParameterError
from cxreports.schema import tame

#: Metrics a target may name: label, unit, and whether a 95% interval comes with them.
METRICS: dict[str, tuple[str, str]] = {
    "handled": ("Handled", "count"),
    "aht_s": ("Handle time, mean", "seconds"),
    "aht_median_s": ("Handle time, median", "seconds"),
    "aht_p90_s": ("Handle time, p90", "seconds"),
    "frt_mean_s": ("First response, mean", "seconds"),
    "frt_median_s": ("First response, median", "seconds"),
    "frt_p90_s": ("First response, p90", "seconds"),
    "hold_rate": ("Put on hold", "rate"),
    "wrap_up_mean_s": ("Wrap-up, mean", "seconds"),
    "resolution_mean_s": ("Resolution time, mean", "seconds"),
    "resolved_rate": ("Resolved", "rate"),
    "transfer_rate": ("Transferred", "rate"),
    "fcr_rate": ("First-contact resolution", "rate"),
    "sla_met_rate": ("SLA met", "rate"),
    "frt_within_target_rate": ("First response within target", "rate"),
    "csat_response_rate": ("CSAT response rate", "rate"),
    "csat_score_mean": ("CSAT mean score", "score"),
    "csat_rate": ("CSAT (4-5 of 5)", "rate"),
    "frt_business_mean_s": ("First response, business hours, mean", "seconds"),
    "frt_business_median_s": ("First response, business hours, median", "seconds"),
    "frt_business_p90_s": ("First response, business hours, p90", "seconds"),
    "resolution_business_mean_s": ("Resolution, business hours, mean", "seconds"),
    "outside_hours_rate": ("Started outside hours", "rate"),
}

#: The column of a breakdown counting the cases a metric is taken from, where not ``handled``:
#: a duration's interactions that have it (a business-hours one has it when the calendar one
#: does), a rate's denominator.
_CASES = {
    **dict.fromkeys(("aht_s", "aht_median_s", "aht_p90_s"), "aht_n"),
    **dict.fromkeys(("frt_mean_s", "frt_median_s", "frt_p90_s", "frt_within_target_rate"), "frt_n"),
    **dict.fromkeys(
        ("frt_business_mean_s", "frt_business_median_s", "frt_business_p90_s"), "frt_n"
    ),
    "hold_rate": "hold_n",
    "wrap_up_mean_s": "wrap_up_n",
    "resolution_mean_s": "resolution_n",
    "resolution_business_mean_s": "resolution_n",
    "sla_met_rate": "sla_eligible",
    "csat_rate": "csat_responses",
    "csat_score_mean": "csat_responses",
    "csat_response_rate": "csat_sent",
}


def cases_of(metric: str) -> str:
    """The column counting the cases ``metric`` is taken from (its ``n``).

    Examples
    --------
    >>> cases_of("frt_median_s"), cases_of("csat_rate"), cases_of("resolved_rate")
    ('frt_n', 'csat_responses', 'handled')
    """
    return _CASES.get(metric, "handled")


#: Short names of the metrics, as the agent table heads its columns: for the status of a team
#: or an agent, where a row has room for a few words.
SHORT = {
    "handled": "Handled",
    "aht_s": "AHT mean",
    "aht_median_s": "AHT median",
    "aht_p90_s": "AHT p90",
    "frt_mean_s": "FRT mean",
    "frt_median_s": "FRT median",
    "frt_p90_s": "FRT p90",
    "hold_rate": "Hold",
    "wrap_up_mean_s": "Wrap-up mean",
    "resolution_mean_s": "Resolution mean",
    "resolved_rate": "Resolved",
    "transfer_rate": "Transfer",
    "fcr_rate": "FCR",
    "sla_met_rate": "SLA met",
    "frt_within_target_rate": "FRT ≤ target",
    "csat_response_rate": "CSAT responses",
    "csat_score_mean": "CSAT score",
    "csat_rate": "CSAT",
    "frt_business_mean_s": "FRT mean (business)",
    "frt_business_median_s": "FRT median (business)",
    "frt_business_p90_s": "FRT p90 (business)",
    "resolution_business_mean_s": "Resolution (business)",
    "outside_hours_rate": "Outside hours",
}

#: Metrics measured against the business hours: a target on one needs them configured.
BUSINESS_METRICS = tuple(m for m in METRICS if "business" in m or m.startswith("outside"))

#: Rates with a Wilson interval (``<metric>_low`` / ``_high``) in every breakdown.
WITH_INTERVAL = ("resolved_rate", "fcr_rate", "sla_met_rate", "csat_rate")

#: Statuses, each with the word and shape the reports show (never colour alone).
STATUS = {"met": "✓ met", "at risk": "◐ at risk", "missed": "✗ missed", "no data": "– no data"}

_SCOPES = ("queue", "channel", "team")
_LIMITS = {"rate": (0.0, 1.0), "score": (1.0, 5.0), "seconds": (0.0, 7 * 86400.0)}
_TEXT = re.compile(r"^\s*([a-z_0-9]+)\s*(>=|<=)\s*([-+0-9.eE]+)\s*(.*)$")


@dataclass(frozen=True)
class Target:
    """One target: ``metric`` ``op`` (``>=`` or ``<=``) ``bound``, an optional ``at_risk`` band
    on the met side, and at most one scope."""

    metric: str
    op: str
    bound: float
    at_risk: float | None = None
    queue: str | None = None
    channel: str | None = None
    team: str | None = None

    @property
    def scope(self) -> tuple[str, str] | None:
        """``("queue", "Billing")``, or None for the whole week."""
        for key in _SCOPES:
            if (value := getattr(self, key)) is not None:
                return key, value
        return None

    def text(self) -> str:
        """The target as written on the command line."""
        parts = [f"{self.metric} {self.op} {_number(self.bound)}"]
        if self.at_risk is not None:
            parts.append(f"at_risk={_number(self.at_risk)}")
        if self.scope:
            parts.append(f"{self.scope[0]}={shlex.quote(self.scope[1])}")
        return " ".join(parts)


def parse(text: str) -> Target:
    """A target from its command-line form.

    Examples
    --------
    >>> parse("sla_met_rate >= 0.8 at_risk=0.05 queue=Billing").text()
    'sla_met_rate >= 0.8 at_risk=0.05 queue=Billing'
    """
    match = _TEXT.match(text) if isinstance(text, str) else None
    if not match:
        raise ParameterError(
            "a target reads METRIC >= VALUE or METRIC <= VALUE, then optionally at_risk=BAND "
            "and queue=, channel= or team=NAME (e.g. 'sla_met_rate >= 0.80')"
        )
    metric, op, bound, rest = match.groups()
    values: dict[str, Any] = {"metric": metric, "op": op, "bound": _float(bound, "the bound")}
    try:
        tokens = shlex.split(rest)
    except ValueError:
        raise ParameterError(f"target {metric}: an unclosed quote") from None
    for token in tokens:
        key, _, value = token.partition("=")
        if key not in ("at_risk", *_SCOPES) or not value:
            raise ParameterError(
                f"target {metric}: {token!r} is not at_risk=BAND, queue=, channel= or team=NAME"
            )
        if key in values:  # the later one would silently win
            raise ParameterError(f"target {metric}: {key}= is given twice; give it once")
        values[key] = _float(value, "at_risk") if key == "at_risk" else value
    return checked(Target(**values))


def from_config(tables: Sequence[Mapping[str, Any]]) -> list[Target]:
    """The targets of the weekly config's ``[[targets]]`` tables, every problem at once.

    Examples
    --------
    >>> from_config([{"metric": "aht_s", "max": 600}])[0].text()
    'aht_s <= 600'
    """
    targets, problems = [], []
    for i, table in enumerate(tables, 1):
        where = f"[[targets]] #{i}"
        allowed = {"metric", "min", "max", "at_risk", *_SCOPES}
        if extra := sorted(set(table) - allowed):
            problems.append(f"{where}: unknown key(s) {', '.join(extra)}")
            continue
        if ("min" in table) == ("max" in table):
            problems.append(f"{where}: give min (higher is better) or max (lower is better)")
            continue
        op, bound = (">=", table["min"]) if "min" in table else ("<=", table["max"])
        try:
            targets.append(
                checked(
                    Target(
                        metric=table.get("metric"),  # type: ignore[arg-type]
                        op=op,
                        bound=_number_value(bound, "min/max"),
                        at_risk=None
                        if table.get("at_risk") is None
                        else _number_value(table["at_risk"], "at_risk"),
                        **{k: table[k] for k in _SCOPES if k in table},
                    )
                )
            )
        except ParameterError as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        raise ParameterError("; ".join(problems))
    return targets


def checked(target: Target) -> Target:
    """``target`` if it can be measured: a known metric, a possible bound and band, one scope."""
    from cxreports.metrics import NOT_AVAILABLE

    if target.metric not in METRICS:
        lowered = {name.lower() for name in NOT_AVAILABLE}
        if isinstance(target.metric, str) and target.metric.replace("_", " ") in lowered:
            raise ParameterError(f"target {target.metric}: the logs cannot give this metric")
        raise ParameterError(
            f"unknown target metric {_shown(target.metric)}: choose from {', '.join(METRICS)}"
        )
    unit = METRICS[target.metric][1]
    low, high = _LIMITS.get(unit, (0.0, math.inf))
    if not low <= target.bound <= high:
        raise ParameterError(
            f"target {target.metric}: the bound must be from {_number(low)} to {_number(high)} "
            f"({unit}), got {_number(target.bound)}"
        )
    if target.at_risk is not None and not 0 < target.at_risk <= high - low:
        raise ParameterError(
            f"target {target.metric}: at_risk must be a band above 0 and at most "
            f"{_number(high - low)} ({unit})"
        )
    scopes = [k for k in _SCOPES if getattr(target, k) is not None]
    if len(scopes) > 1:
        raise ParameterError(f"target {target.metric}: give one scope, not {' and '.join(scopes)}")
    for key in scopes:
        value = getattr(target, key)
        if not isinstance(value, str) or not value.strip() or not value.isprintable():
            raise ParameterError(f"target {target.metric}: {key} must be a name (text)")
    return target


def as_parameters(targets: Sequence[Target]) -> list[dict[str, Any]]:
    """Targets as plain values, for a notebook's ``targets`` parameter."""
    return [{k: v for k, v in asdict(t).items() if v is not None} for t in targets]


def from_parameters(values: Sequence[Target | Mapping[str, Any] | str] | None) -> list[Target]:
    """Targets from a notebook parameter: Target objects, their dicts or their texts."""
    out = []
    for value in values or []:
        if isinstance(value, Target):
            out.append(checked(value))
        elif isinstance(value, str):
            out.append(parse(value))
        elif isinstance(value, Mapping):
            out.append(checked(Target(**value)))  # type: ignore[arg-type]
        else:
            raise ParameterError("targets must be a list of targets such as 'aht_s <= 600'")
    return out


def evaluate(targets: Sequence[Target], tables: Mapping[str, pl.DataFrame | None]) -> pl.DataFrame:
    """Each target's status in a week: ``tables`` are its ``summary``, ``queues``, ``channels``
    and ``teams`` breakdowns (``teams`` may be None).

    Columns: ``target`` (its text), ``metric``, ``label``, ``scope`` (``all`` or ``queue
    Billing``), ``op``, ``bound``, ``value``, ``n`` (the cases the value rests on), ``low`` and
    ``high`` (its 95% interval, rates only), ``status``, ``gap`` (value minus bound; negative
    is on the wrong side for ``>=``) and ``within_noise`` (the interval reaches the bound, so
    the status could be chance: a rate only, else null).
    """
    keys = {"queue": ("queues", "queue_name"), "channel": ("channels", "channel"),
            "team": ("teams", "team")}  # fmt: skip
    rows = []
    for t in targets:
        label = METRICS[t.metric][0]
        if t.scope is None:
            frame, scope = tables["summary"], "all"
        else:
            name, column = keys[t.scope[0]]
            frame = tables.get(name)
            if frame is None:
                raise ParameterError(f"target {t.text()}: needs the teams mapping (team_map)")
            shown = tame(t.scope[1])  # as the week's tables name it
            frame = frame.filter(pl.col(column) == shown)
            scope = f"{t.scope[0]} {shown}"
        row = frame.row(0, named=True) if frame.height else {}
        value = row.get(t.metric)
        n = row.get(cases_of(t.metric)) or 0
        low, high = (row.get(f"{t.metric}_{e}") for e in ("low", "high"))
        rows.append(
            {
                "target": t.text(),
                "metric": t.metric,
                "label": label,
                "scope": scope,
                "op": t.op,
                "bound": t.bound,
                "value": None if value is None else float(value),
                "n": int(n),
                "low": low,
                "high": high,
                **_status(t, value, low, high),
            }
        )
    return pl.DataFrame(rows, schema=SCHEMA)


#: The schema of :func:`evaluate`'s table.
SCHEMA = pl.Schema(
    {
        "target": pl.String,
        "metric": pl.String,
        "label": pl.String,
        "scope": pl.String,
        "op": pl.String,
        "bound": pl.Float64,
        "value": pl.Float64,
        "n": pl.Int64,
        "low": pl.Float64,
        "high": pl.Float64,
        "status": pl.String,
        "gap": pl.Float64,
        "within_noise": pl.Boolean,
    }
)


def _status(t: Target, value: float | None, low: float | None, high: float | None) -> dict:
    if value is None:
        return {"status": "no data", "gap": None, "within_noise": None}
    higher = t.op == ">="
    gap = float(value) - t.bound
    met = gap >= 0 if higher else gap <= 0
    if not met:
        status = "missed"
    elif t.at_risk is not None and abs(gap) < t.at_risk:
        status = "at risk"
    else:
        status = "met"
    within = None
    if low is not None and high is not None:
        within = bool(low <= t.bound <= high)
    return {"status": status, "gap": gap, "within_noise": within}


def _float(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ParameterError(
            f"{what} must be a number, got text ({len(text)} characters)"
        ) from None
    return _number_value(value, what)


def _number_value(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ParameterError(f"{what} must be a finite number")
    return float(value)


def _number(value: float) -> str:
    return f"{value:g}"


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) and len(value) <= 40 else "(not a metric name)"


def by_group(targets: Sequence[Target], frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """Each group's status against the whole-week targets: ``key`` and ``targets``, a short
    text such as ``✗ SLA met · ✓ CSAT`` (a breakdown such as ``teams``; :data:`SHORT` names)."""
    goals = [t for t in targets if t.scope is None]
    texts = []
    for value in frame[key].to_list():
        row = frame.filter(pl.col(key).eq_missing(value))
        done = evaluate(goals, {"summary": row}).to_dicts() if goals else []
        texts.append(" · ".join(f"{STATUS[r['status']][0]} {SHORT[r['metric']]}" for r in done))
    return pl.DataFrame({key: frame[key], "targets": texts})
