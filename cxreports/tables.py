"""Metric frames -> great_tables tables and small HTML blocks (KPI cards, notes, footer).

Every value that comes from the data is escaped: great_tables escapes cell text, and the HTML
blocks here go through :func:`html.escape`, so an agent called ``<b>x</b>`` shows as text.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from great_tables import GT, loc, style

from cxreports import palette, scope
from cxreports.metrics import NOT_AVAILABLE, WeeklyMetrics
from cxreports.metrics import changes as changes_
from cxreports.metrics.weekly import MIN_RATE_BASE, PART_WEEK, reading
from cxreports.schema import agent_labels, isolated, tame
from cxreports.teams import UNASSIGNED
from cxreports.units import duration

#: Cell tints of a rate column, lowest to highest among ranked agents: a light vermillion, white,
#: a light blue. The value is printed in the cell, so the tint only repeats it.
RATE_PALETTE = [palette.BAD_TINT, palette.BACKGROUND, palette.GOOD_TINT]
#: Mark after the name of an agent below the minimum volume (the report text says what it means).
NOT_RANKED = "†"
#: Fewest survey answers for an agent's CSAT cell to be tinted: a handful of answers swings the
#: rate by tens of points, and a tint would rank the agent on it.
MIN_CSAT_TINT = 10


def format_value(unit: str, value: float | None) -> str:
    if value is None:
        return "—"
    if unit == "rate":
        return f"{value:.1%}"
    if unit == "seconds":
        return duration(value)
    if unit == "score":
        return f"{value:.2f}"
    return f"{value:,.0f}"


def format_change(unit: str, change: float) -> str:
    """A signed change, with a true minus sign for every unit.

    Examples
    --------
    >>> format_change("rate", -0.015), format_change("seconds", -313), format_change("count", 6)
    ('−1.5 pp', '−5:13', '+6')
    """
    sign = "+" if change >= 0 else "−"
    size = abs(change)
    if unit == "rate":
        return f"{sign}{size * 100:.1f} pp"
    if unit == "seconds":
        return sign + duration(size)
    if unit == "score":
        return f"{sign}{size:.2f}"
    return f"{sign}{size:,.0f}"


#: The KPI cards of each report, by metric column.
AGENT_KPIS = (
    "handled", "aht_s", "frt_mean_s", "resolved_rate", "fcr_rate",
    "sla_met_rate", "csat_rate", "transfer_rate", "hold_rate", "csat_score_mean",
    # with business hours only
    "frt_business_mean_s", "outside_hours_rate",
)  # fmt: skip
SLA_CSAT_KPIS = (
    "sla_met_rate", "frt_mean_s", "handled", "csat_rate", "csat_score_mean",
    "frt_business_mean_s", "outside_hours_rate",
)  # fmt: skip
#: The headline cards of each report, by the name :func:`changes_section` is given.
_REPORT_KPIS = {"agent-performance": AGENT_KPIS, "csat-sla": SLA_CSAT_KPIS}


def kpi_cards(
    kpis: pl.DataFrame,
    metrics: tuple[str, ...] | None = None,
    *,
    summary: pl.DataFrame | None = None,
    targets: pl.DataFrame | None = None,
) -> str:
    """Headline KPI cards: value, change against the previous week, and its reading.

    The change has an arrow for its direction. A figure with a 95% interval (the rates that
    have one) has a word for its reading as well: *better* or *worse* (in blue or vermillion,
    never colour alone) when last week's value lies outside this week's interval, *within
    noise* (in grey, no verdict) when inside, *provisional* while the data does not reach the
    end of its window (FCR). Volume, means and the rates without an interval get no verdict.
    With ``summary`` (``WeeklyMetrics.summary``) a duration card also gives the median beside
    the mean its label names. With ``targets`` (``WeeklyMetrics.targets``) a card whose metric
    has a target for the whole week shows it and its status in a word and a shape.
    """
    goals = {}
    if targets is not None:
        goals = {r["metric"]: r for r in targets.iter_rows(named=True) if r["scope"] == "all"}
    if metrics:
        order = {m: i for i, m in enumerate(metrics)}
        kpis = kpis.filter(pl.col("metric").is_in(list(metrics))).sort(
            pl.col("metric").replace_strict(order, return_dtype=pl.Int32)
        )
    medians = summary.row(0, named=True) if summary is not None and summary.height else {}
    cards = []
    for k in kpis.iter_rows(named=True):
        value = format_value(k["unit"], k["value"])
        if k["value"] is None or k["previous"] is None or k["change"] is None:
            delta = '<span class="cx-delta cx-flat">no comparison</span>'
        else:
            arrow = "▲" if k["change"] > 0 else ("▼" if k["change"] < 0 else "■")
            # colour only for a verdict: no interval, within noise or provisional are grey
            word = reading(k)
            kind = {"better": "cx-good", "worse": "cx-bad"}.get(word, "cx-flat")
            delta = (
                f'<span class="cx-delta {kind}">{arrow} '
                f"{format_change(k['unit'], k['change'])}{' ' * bool(word)}{word}</span>"
                f'<span class="cx-prev"> vs {format_value(k["unit"], k["previous"])}</span>'
            )
        extra = []
        median = medians.get(_MEDIAN_OF.get(k["metric"], ""))
        if k["unit"] == "seconds" and median is not None:
            extra.append(f"median {duration(median)}")
        if k["low"] is not None and k["value"] is not None:
            extra.append(f"95% CI {k['low']:.0%}–{k['high']:.0%}")
        if k["unit"] != "count" and k["value"] is not None:
            extra.append(f"n={k['n']:,}")
        ci = f'<div class="cx-ci">{" · ".join(extra)}</div>' if extra else ""
        if goal := goals.get(k["metric"]):
            ci += _card_target(k["unit"], goal)
        cards.append(
            f'<div class="cx-card"><div class="cx-label">{html.escape(k["label"])}</div>'
            f'<div class="cx-value">{value}</div><div>{delta}</div>{ci}</div>'
        )
    return f'<div class="cx-cards">{"".join(cards)}</div>{_CARD_CSS}'


def _card_target(unit: str, goal: dict[str, Any]) -> str:
    from cxreports.targets import STATUS

    op = goal["op"].replace(">=", "≥").replace("<=", "≤")
    bound = format_value(unit, goal["bound"])
    kind = {"missed": "cx-bad", "at risk": "cx-flat"}.get(goal["status"], "cx-flat")
    return (
        f'<div class="cx-ci"><span class="cx-delta {kind}">{html.escape(STATUS[goal["status"]])}'
        f"</span> · target {html.escape(op)} {bound}</div>"
    )


#: The median beside each mean KPI, from the summary.
_MEDIAN_OF = {
    "aht_s": "aht_median_s",
    "frt_mean_s": "frt_median_s",
    "frt_business_mean_s": "frt_business_median_s",
}

_P = palette
#: The footer's table has a fixed layout: at its content's width WeasyPrint measures its text
#: letter by letter (``overflow-wrap: anywhere`` makes every letter a place to wrap), a tenth
#: of a report's PDF; at a fixed width it wraps the same text for a fraction of that.
_CARD_CSS = f"""<style>
.cx-cards{{display:grid;grid-template-columns:repeat(5,minmax(0,1fr));gap:8px;margin:8px 0 4px}}
@media screen and (max-width:900px){{.cx-cards{{grid-template-columns:repeat(3,minmax(0,1fr))}}}}
@media screen and (max-width:600px){{.cx-cards{{grid-template-columns:repeat(2,minmax(0,1fr))}}}}
.cx-card{{border:1px solid {_P.RULE};border-radius:8px;padding:8px 10px;background:{_P.SURFACE};
  break-inside:avoid;min-width:0;overflow-wrap:anywhere}}
.cx-label{{font-size:12px;color:{_P.MUTED};text-transform:uppercase;letter-spacing:.03em}}
.cx-value{{font-size:22px;font-weight:600;color:{_P.TEXT};margin:2px 0}}
.cx-delta{{font-size:12px;font-weight:600}}.cx-prev{{font-size:12px;color:{_P.MUTED}}}
.cx-good{{color:{_P.GOOD_TEXT}}}.cx-bad{{color:{_P.BAD_TEXT}}}.cx-flat{{color:{_P.MUTED}}}
.cx-ci{{font-size:12px;color:{_P.MUTED};margin-top:2px}}
.cx-note{{border-left:3px solid {_P.NOTE_RULE};background:{_P.NOTE_TINT};color:{_P.TEXT};
  padding:6px 10px;font-size:13px;margin:6px 0;break-inside:avoid}}
.cx-footer{{font-size:12px;color:{_P.MUTED};border-top:1px solid {_P.RULE};margin-top:16px;
  padding-top:6px;overflow-wrap:anywhere}}
.cx-footer{{break-inside:avoid}}.cx-footer h3{{font-size:13px;margin:0 0 4px;color:{_P.TEXT}}}
.cx-footer table{{table-layout:fixed;width:100%}}.cx-footer table th{{width:16em}}
.cx-footer table th,.cx-footer table td{{padding:1px 10px 1px 0;vertical-align:top;text-align:left;
  font-weight:normal;border:0}}
.cx-glossary{{font-size:13px;margin:4px 0}}.cx-glossary dt{{font-weight:600;margin-top:6px;
  break-after:avoid}}.cx-glossary dd{{margin:0 0 0 1em;color:{_P.TEXT};break-inside:avoid}}
.cx-header h1{{margin-bottom:0}}
.cx-header .cx-sub{{color:{_P.MUTED};font-size:14px;overflow-wrap:anywhere}}
</style>"""


def _arrow(now: pl.Expr, before: pl.Expr, fmt: str) -> pl.Expr:
    change = now - before
    return (
        pl.when(before.is_null() | now.is_null())
        .then(pl.lit(""))
        .when(change > 0)
        .then(pl.format("▲ {}", change.round(3).map_elements(fmt.format, return_dtype=pl.String)))
        .when(change < 0)
        .then(
            pl.format(
                "▼ {}", change.abs().round(3).map_elements(fmt.format, return_dtype=pl.String)
            )
        )
        .otherwise(pl.lit("■"))
    )


def _sticky(gt: GT, stub: str) -> GT:
    """``gt`` with its ``stub`` column as row headers (``<th scope="row">``) under a stub
    heading; ``cxreport.css`` keeps that column in view while the table scrolls sideways.
    A long row header wraps in a box of its own (:func:`wrapped`)."""
    return gt.tab_stubhead(label=stub).fmt(wrapped, columns=stub)


#: Longest text (and longest word) a table cell keeps on one line; a longer name wraps.
LONG_TEXT, LONG_WORD = 32, 20
#: The box a long text wraps in: a fixed width, so that a table sizes it without measuring it.
_LONG_BOX = (
    "display:inline-block;width:13em;white-space:normal;overflow-wrap:anywhere;vertical-align:top"
)


def wrapped(value: object) -> str:
    """``value`` as HTML text for a table cell that keeps its text on one line: escaped, and
    when long (an agent named by a 60-letter address, a hostile 200-letter queue name), in a
    box of 13em that wraps it anywhere. A long row header would otherwise widen its column
    past the screen and, kept in view as the table scrolls, cover every number beside it; in
    the PDF it would run off the page.

    Examples
    --------
    >>> wrapped("Ana & Bo")
    'Ana &amp; Bo'
    >>> wrapped("x" * 40).startswith('<span style="display:inline-block;width:13em;')
    True
    """
    text = "" if value is None else str(value)
    shown = html.escape(text, quote=False)
    if len(text) <= LONG_TEXT and all(len(word) <= LONG_WORD for word in text.split()):
        return shown
    return f'<span style="{_LONG_BOX}">{shown}</span>'


def agent_table(metrics: WeeklyMetrics) -> GT:
    """The agent table: volume, handle-time figures, outcomes, SLA and CSAT, with trends.

    The agent's name is the row header and stays in view while the table scrolls sideways.
    Agents under the minimum volume are listed after the ranked ones, muted and marked
    :data:`NOT_RANKED`; their rates are shown but not tinted or flagged. Every column says
    whether it is a mean, a median or a p90.
    """
    a = metrics.agents.sort(["ranked", "handled"], descending=[True, True])
    shown = a.select(
        pl.when(pl.col("ranked"))
        .then(agent_labels())
        .otherwise(pl.format("{} {}", agent_labels(), pl.lit(NOT_RANKED)))
        .alias("Agent"),
        *([pl.col("team").alias("Team")] if "team" in a.columns else []),
        pl.format(
            "{} {}",
            pl.col("handled"),
            _arrow(
                pl.col("handled").cast(pl.Int64), pl.col("handled_prev").cast(pl.Int64), "{:,.0f}"
            ),
        ).alias("Handled"),
        *(
            pl.col(c).map_elements(duration, return_dtype=pl.String, skip_nulls=False).alias(name)
            for c, name in (
                ("aht_s", "AHT mean"),
                ("aht_median_s", "AHT median"),
                ("aht_p90_s", "AHT p90"),
                ("frt_median_s", "FRT median"),
                ("frt_business_median_s", "FRT median, business hours"),
                ("wrap_up_mean_s", "Wrap-up mean"),
            )
            if c in a.columns  # business time only with business hours
        ),
        pl.col("hold_rate").alias("Hold"),
        pl.col("transfer_rate").alias("Transfer"),
        pl.col("fcr_rate").alias("FCR"),
        pl.col("resolved_rate").alias("Resolved"),
        pl.col("sla_met_rate").alias("SLA met"),
        pl.col("csat_rate").alias("CSAT"),
        pl.col("csat_responses").alias("CSAT n"),
        pl.col("flags").fill_null("").str.replace_all("; ", ", ").alias("Flags"),
        # each ranked agent against the whole week's targets, when there are any
        *([_target_lines().alias("Targets")] if "targets" in a.columns else []),
        pl.col("ranked"),
    )
    rates = ["Hold", "Transfer", "FCR", "Resolved", "SLA met", "CSAT"]
    unranked = [i for i, r in enumerate(shown["ranked"]) if not r]
    gt = (
        _sticky(GT(shown.drop("ranked"), rowname_col="Agent", id="cx-agents"), "Agent")
        .fmt_percent(columns=rates, decimals=0)
        .fmt_integer(columns=["CSAT n"])
        .sub_missing(missing_text="—")
        .cols_align(
            "right",
            columns=[
                c for c in shown.columns if c not in ("Agent", "Team", "Flags", "Targets", "ranked")
            ],
        )
        .tab_style(style.text(color=palette.MUTED), loc.body(rows=unranked))
        # muted, not italic: WeasyPrint prints a name in a script the italic font lacks
        # (Arabic in DejaVu Sans Oblique) with the glyphs of another font, as cat faces
        .tab_style(style.text(color=palette.MUTED), loc.stub(rows=unranked))
        .tab_style(style.text(color=palette.BAD_TEXT), loc.body(columns="Flags"))
        .tab_options(
            table_font_size="12px", data_row_padding="3px", column_labels_font_weight="bold"
        )
    )
    ranked_rows = [i for i, r in enumerate(shown["ranked"]) if r]
    answered = [i for i in ranked_rows if (shown["CSAT n"][i] or 0) >= MIN_CSAT_TINT]
    for column in ("FCR", "Resolved", "SLA met", "CSAT"):
        rows = answered if column == "CSAT" else ranked_rows
        values = shown[column].gather(rows).drop_nulls() if rows else shown[column].clear()
        if values.len() > 1 and values.min() != values.max():
            gt = gt.data_color(
                columns=column,
                rows=rows,
                palette=RATE_PALETTE,
                domain=[float(values.min()), float(values.max())],
                na_color=palette.BACKGROUND,
            )
    return _lined(gt, shown.columns)


def teams_section(metrics: WeeklyMetrics) -> str:
    """The heading and reading guide of the team roll-up (shown only with a teams mapping)."""
    return (
        '<h2 id="Teams">Teams</h2>'
        "<p>The same figures for each team of the mapping, with the team lead and the agents "
        "active this week. Rates carry their 95% interval: a team with few cases has a wide "
        f"one. <em>{html.escape(UNASSIGNED)}</em> holds agents the mapping does not name "
        "(and interactions without an agent); it is listed last.</p>"
    )


def team_table(metrics: WeeklyMetrics) -> GT:
    """The team roll-up: lead, agents, volume, handle time, outcomes, SLA and CSAT.

    The team is the row header and stays in view while the table scrolls sideways.
    """
    if metrics.teams is None:
        raise ValueError("the week was computed without a teams mapping")
    agents = (
        metrics.agents.filter(pl.col("agent_id").is_not_null())
        .group_by("team")
        .agg(pl.len().cast(pl.UInt32).alias("agents"))
    )
    frame = metrics.teams.join(agents, on="team", how="left", maintain_order="left")
    shown = frame.select(
        pl.col("team").alias("Team"),
        pl.col("lead").fill_null("—").alias("Lead"),
        pl.col("agents").fill_null(0).alias("Agents"),
        pl.col("handled").alias("Handled"),
        *(
            pl.col(c).map_elements(duration, return_dtype=pl.String, skip_nulls=False).alias(name)
            for c, name in (("aht_s", "AHT mean"), ("frt_median_s", "FRT median"))
        ),
        pl.col("resolved_rate").alias("Resolved"),
        pl.col("fcr_rate").alias("FCR"),
        pl.col("sla_met_rate").alias("SLA met"),
        _interval("sla_met_rate").alias("SLA 95% CI (%)"),
        pl.col("csat_rate").alias("CSAT"),
        _interval("csat_rate").alias("CSAT 95% CI (%)"),
        pl.col("csat_responses").alias("CSAT n"),
        # each team against the whole week's targets, when there are any
        *([_target_lines().alias("Targets")] if "targets" in frame.columns else []),
    )
    return _lined(
        _whole_intervals(
            _sticky(GT(shown, rowname_col="Team", id="cx-teams"), "Team"), shown.columns
        )
        .fmt_percent(columns=["Resolved", "FCR", "SLA met", "CSAT"], decimals=0)
        .fmt_integer(columns=["Agents", "Handled", "CSAT n"])
        .cols_align("right", columns=["AHT mean", "FRT median"])
        .sub_missing(missing_text="—")
        .tab_options(
            table_font_size="12px", data_row_padding="3px", column_labels_font_weight="bold"
        ),
        shown.columns,
    )


def _target_lines() -> pl.Expr:
    """A group's targets as a table cell: what is not met, one a line, then how many are met
    (``✗ SLA met`` / ``✓ 2 met``, or ``✓ all 3 met``), so that the cell stays narrow on
    a phone and on A4. The targets section lists each in full."""
    parts = pl.col("targets").str.split(" · ")
    met = parts.list.eval(pl.element().str.starts_with("✓")).list.sum()
    rest = parts.list.eval(pl.element().filter(~pl.element().str.starts_with("✓")))
    return (
        pl.when(pl.col("targets").is_null() | (pl.col("targets") == ""))
        .then(None)
        .when(parts.list.len() == 1)
        .then(pl.col("targets"))
        .when(rest.list.len() == 0)
        .then(pl.format("✓ all {} met", met))
        .when(met > 0)
        .then(pl.format("{}\n✓ {} met", rest.list.join("\n"), met))
        .otherwise(rest.list.join("\n"))
    )


def _lined(gt: GT, columns: list[str]) -> GT:
    """``gt`` with the line breaks of its ``Targets`` column kept, if ``columns`` has one."""
    if "Targets" not in columns:
        return gt
    return gt.tab_style(style.css("white-space:pre-line"), loc.body(columns="Targets"))


def targets_section(metrics: WeeklyMetrics) -> str:
    """The week's targets, missed ones first: each with its bound, this week's value, the
    95% interval of a rate, the status in a word and a shape, and whether the interval still
    reaches the bound (a miss on a handful of cases may be chance). Empty without targets."""
    t = metrics.targets
    if t is None or not t.height:
        return ""
    order = {"missed": 0, "at risk": 1, "no data": 2, "met": 3}
    rows = sorted(t.iter_rows(named=True), key=lambda r: order[r["status"]])
    missed = [r for r in rows if r["status"] == "missed"]
    empty = sum(r["status"] == "no data" for r in rows)
    of = f"{t.height} target{'s' if t.height > 1 else ''}"
    lead = (
        f"{len(missed)} of {of} missed this week."
        if missed
        else f"Every one of the {of} is met or at risk."
        if not empty
        else f"None of the {of} is missed; {empty} had no data this week."
    )
    if missed and empty:
        lead += f" {empty} had no data."
    body = "".join(_target_row(r) for r in rows)
    return (
        '<h2 id="Targets">Targets</h2>'
        f"<p>{html.escape(lead)} A rate's 95% interval says how sure the status is: when it still "
        "reaches the target, the difference may be chance (<em>within noise</em>); when the "
        "whole interval lies on one side, it is not. Durations carry no interval here.</p>"
        '<div class="cx-table-scroll"><table class="cx-targets"><thead><tr>'
        + "".join(
            f'<th scope="col">{h}</th>'
            for h in ("Target", "Status", "This week", "By", "Sure?", "Scope", "95% interval", "n")
        )
        + f"</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _target_row(r: dict[str, Any]) -> str:
    from cxreports.targets import METRICS, STATUS

    unit = METRICS[r["metric"]][1]

    def shown(value: float | None) -> str:  # as the headline cards show it
        return format_value(unit, value)

    by = "—" if r["gap"] is None else format_change(unit, r["gap"])
    sure = {True: "within noise", False: "beyond noise", None: "—"}[r["within_noise"]]
    interval = "—" if r["low"] is None else f"{shown(r['low'])}–{shown(r['high'])}"
    # the status right after the target: on a phone the table scrolls, and these stay in view
    cells = (
        f"{r['label']} {r['op'].replace('>=', '≥').replace('<=', '≤')} {shown(r['bound'])}",
        STATUS[r["status"]],
        shown(r["value"]),
        by,
        sure,
        r["scope"],
        interval,
        f"{r['n']:,}",
    )
    tone = {"missed": "cx-bad", "at risk": "cx-warn"}.get(r["status"], "")
    tds = "".join(
        f'<td class="{tone}">{html.escape(c)}</td>' if i == 1 else f"<td>{wrapped(c)}</td>"
        for i, c in enumerate(cells)
    )
    return f"<tr>{tds}</tr>"


#: Where each report shows what a change names: (metric, dimension) -> the heading's anchor;
#: ``*`` stands for any metric, and the headline cards show every figure.
_CHANGE_LINKS: dict[str, dict[tuple[str, str], str]] = {
    "agent-performance": {
        ("*", "agent"): "Agents",
        ("count", "hour"): "When-contacts-arrive",
    },
    "csat-sla": {
        ("sla_met_rate", "queue_name"): "SLA-met-by-queue",
        ("sla_met_rate", "channel"): "SLA-met-by-channel",
        ("sla_met_rate", "hour"): "Worst-hours",
        ("csat_rate", "agent"): "CSAT-by-agent",
        ("*", "queue_name"): "SLA-and-CSAT-by-queue-and-channel",
        ("*", "channel"): "SLA-and-CSAT-by-queue-and-channel",
    },
}


def changes_section(metrics: WeeklyMetrics, report: str = "") -> str:
    """What changed this week beyond noise, and why, in a few sentences
    (:mod:`cxreports.metrics.changes`), each linked to the headline and to the chart or table
    of ``report`` (``agent-performance``, ``csat-sla``) that shows what it names; one sentence
    when nothing moved; a sentence for a headline card of the report whose better or worse is
    not among them (:func:`card_readings`). A short note says how a change is told from
    noise."""
    found = metrics.changes
    if found is None:
        return ""
    links = _CHANGE_LINKS.get(report, {})
    items = []
    rows = found.claims.iter_rows(named=True) if found.claims.height else [None]
    for claim in rows:
        if claim is None:
            items.append(f"<li>{html.escape(found.sentences[0])}</li>")
            continue
        anchors = ["Headline"]
        for key in ((claim["metric"], claim["dimension"]), ("*", claim["dimension"])):
            if (anchor := links.get(key)) and anchor not in anchors:
                anchors.append(anchor)
                break
        shown = " · ".join(
            f'<a href="#{a}">{html.escape(a.replace("-", " "))}</a>' for a in anchors
        )
        items.append(
            f'<li>{html.escape(claim["sentence"])} <span class="cx-see">See {shown}.</span></li>'
        )
    against = "last week" + (
        f" and the {found.baseline_weeks}-week baseline" if found.baseline_weeks > 1 else ""
    )
    shown = _REPORT_KPIS.get(report, tuple(metrics.kpis["metric"]))
    if note := card_readings(metrics, shown):
        items.append(f"<li>{html.escape(note)}</li>")
    said = (
        '<h2 id="What-changed">What changed this week</h2>'
        f'<ul class="cx-changes">{"".join(items)}</ul>'
    )
    if not found.tests:  # nothing could be compared: no method to explain, no "0 comparisons"
        return said
    return (
        said + f'<p class="cx-method">How a change is told from noise: {changes_.TESTED} are '
        f"each tested against {against}"
        + (f", every week only up to {found.until} (where the data ends)" if found.until else "")
        + ", and so is each queue, channel, hour and agent that "
        f"could explain it ({found.tests:,} comparison{'s' if found.tests != 1 else ''}). "
        "A change is said only when it stays "
        "beyond noise after correcting for that many tests (a 5% false-discovery rate) and is "
        "large enough to matter; the share of a change a queue or channel carries splits into "
        "volume mix and rate (see the glossary).</p>"
    )


def outside_data(metrics: WeeklyMetrics) -> bool:
    """Whether the week lies before the data's first interaction or after its last: its notes
    say so (:func:`data_begins`, :func:`data_ends`), not that no interaction was handled."""
    return metrics.changes is not None and metrics.changes.outside is not None


def card_readings(metrics: WeeklyMetrics, shown: Collection[str]) -> str | None:
    """The sentences that square the headline with What changed: a figure of ``shown`` that
    reads better or worse than last week by its own interval while What changed names no
    change of it, said for what became of its test (within noise once weighed with every
    comparison; beyond noise too but left out of the changes named; not tested this week,
    too few cases; never tested, first-contact resolution). None when What changed names a
    change of every such figure (against last week or the baseline).
    """
    found = metrics.changes
    if found is None or found.first_week:
        return None
    named = set(found.claims["metric"].to_list())
    groups: dict[str, dict[str, list[str]]] = {}
    for k in metrics.kpis.iter_rows(named=True):
        word = reading(k)
        if k["metric"] not in shown or word not in ("better", "worse") or k["metric"] in named:
            continue
        fate = found.headline.get((k["metric"], "last week"), "not tested")
        groups.setdefault(fate, {"worse": [], "better": []})[word].append(k["label"])
    said = []
    for fate in ("noise", "beyond", "too few", "not tested"):
        if fate not in groups:
            continue
        words = [(w, n) for w, n in groups[fate].items() if n]
        one = len(words) == 1 and len(words[0][1]) == 1
        # "SLA met reads worse", "SLA met and CSAT read worse", "Resolved reads worse, and
        # CSAT better,"
        (word, first), *other = words
        figures = f"{changes_.and_(first)} {'reads' if len(first) == 1 else 'read'} {word}"
        if other:
            figures += f", and {changes_.and_(other[0][1])} {other[0][0]},"
        it = "it" if one else "them"
        tail = {
            "noise": f"What changed, which counts last week's own noise too and weighs all "
            f"{found.tests:,} comparisons together, finds {it} within noise",
            "beyond": f"What changed finds {it} beyond noise too but leaves {it} out of the "
            f"changes it names (smaller than matters, or past the {changes_.MAX_CLAIMS} it "
            "names)",
            "too few": f"What changed could not test {it} (fewer than "
            f"{changes_.MIN_CASES} cases on a side, or too few of one outcome)",
            "not tested": f"What changed does not test {it}",
        }[fate]
        if found.until and fate != "not tested":
            tail += f", comparing each week only up to {found.until}"
        said.append(
            f"{'' if said else 'In the headline, '}{figures} than last week"
            f"{' by its own interval' if one else ', each by its own interval'}; {tail}."
        )
    return " ".join(said) or None


def business_hours_section(metrics: WeeklyMetrics) -> str:
    """The opening hours, first response and resolution in calendar and business time side by
    side, and the interactions that started while the center was closed, for the whole week
    and by queue. Empty without business hours."""
    hours = metrics.hours
    if hours is None:
        return ""
    s = metrics.summary.row(0, named=True)
    tz = metrics.params["tz"]
    closed = [d for d in metrics.week.days if d in hours.default.holidays]
    lead = f"Open {hours.default.text()} ({tz})"
    if closed:
        lead += "; closed on " + ", ".join(f"{d:%a} {d.day} {d:%b}" for d in closed)
    own = "".join(f" {name} has its own hours: {cal.text()}." for name, cal in hours.queues)
    handled, outside = s["handled"] or 0, s["outside_hours"] or 0
    share = f" ({outside / handled:.0%})" if handled else ""
    clock = "business" if hours.frt_clock == "business" else "calendar"
    figures = (
        ("First response, mean", "frt_mean_s", "frt_business_mean_s"),
        ("First response, median", "frt_median_s", "frt_business_median_s"),
        ("First response, p90", "frt_p90_s", "frt_business_p90_s"),
        ("Resolution, mean", "resolution_mean_s", "resolution_business_mean_s"),
    )
    rows = "".join(
        f'<tr><th scope="row">{label}</th><td class="num">{duration(s[cal])}</td>'
        f'<td class="num">{duration(s[biz])}</td></tr>'
        for label, cal, biz in figures
    )
    by_queue = "".join(
        f'<tr><th scope="row">{html.escape(q["queue_name"] or "(none)")}</th>'
        f'<td class="num">{q["handled"]:,}</td>'
        f'<td class="num">{q["outside_hours"]:,} ({(q["outside_hours_rate"] or 0):.0%})</td>'
        f'<td class="num">{duration(q["frt_mean_s"])}</td>'
        f'<td class="num">{duration(q["frt_business_mean_s"])}</td></tr>'
        for q in metrics.queues.iter_rows(named=True)
    )
    head = "".join(
        f'<th scope="col">{h}</th>'
        for h in ("Queue", "Handled", "Started outside hours", "First response, mean", "Business")
    )
    return (
        '<h2 id="Business-hours">Business hours</h2>'
        f"<p>{html.escape(lead)}.{html.escape(own)} Business time counts only the open hours "
        "between an interaction's start and its first response or resolution: a first reply on "
        "Monday morning to a message sent on Saturday is quick in business time. "
        + (
            f"<strong>{outside:,} of {handled:,} interactions{share} started while the center "
            "was closed.</strong>"
            if handled
            else "No interaction was handled this week."
        )
        + f" The first-response target (≤ {duration(metrics.params['frt_target_s'])})"
        f" is measured in {clock} time.</p>"
        '<div class="cx-table-scroll"><table class="cx-hours"><thead><tr><th scope="col">'
        'Whole week</th><th scope="col">Calendar time</th><th scope="col">Business time</th>'
        f"</tr></thead><tbody>{rows}</tbody></table></div>"
        + (
            '<div class="cx-table-scroll"><table class="cx-hours"><thead><tr>'
            f"{head}</tr></thead><tbody>{by_queue}</tbody></table></div>"
            if by_queue
            else ""
        )
    )


def _whole_intervals(gt: GT, columns: Sequence[str]) -> GT:
    """``gt`` with its 95% interval cells kept on one line: a narrow column broke "51–58"
    after its dash."""
    ci = [c for c in columns if c.endswith("95% CI (%)")]
    return gt.tab_style(style.css("white-space:nowrap"), loc.body(columns=ci)) if ci else gt


def _interval(rate: str) -> pl.Expr:
    """``low–high`` of a rate's 95% Wilson interval, in whole percent."""
    bound = [(pl.col(f"{rate}_{end}") * 100).round(0).cast(pl.Int64) for end in ("low", "high")]
    return pl.format("{}–{}", *bound).alias("95% CI (%)")


def rate_table(frame: pl.DataFrame, key: str, label: str) -> GT:
    """SLA and CSAT by ``key`` (queue, channel, hour...): rates, intervals, counts.

    The group is the row header (``<th scope="row">``) and stays in view while scrolling.
    """
    shown = frame.select(
        pl.col(key).cast(pl.String).fill_null("(none)").alias(label),
        pl.col("handled").alias("Handled"),
        pl.col("sla_met_rate").alias("SLA met"),
        _interval("sla_met_rate"),
        pl.col("sla_breaches").alias("Breaches"),
        pl.col("frt_within_target_rate").alias("FRT ≤ target*"),
        pl.col("frt_median_s")
        .map_elements(duration, return_dtype=pl.String, skip_nulls=False)
        .alias("FRT median"),
        pl.col("csat_rate").alias("CSAT"),
        pl.col("csat_score_mean").alias("Mean score"),
        pl.col("csat_responses").alias("Responses"),
        pl.col("csat_response_rate").alias("Response rate"),
    )
    return (
        _whole_intervals(_sticky(GT(shown, rowname_col=label), label), shown.columns)
        .fmt_percent(columns=["SLA met", "FRT ≤ target*", "CSAT", "Response rate"], decimals=0)
        .fmt_number(columns=["Mean score"], decimals=2)
        .fmt_integer(columns=["Handled", "Breaches", "Responses"])
        .cols_align("right", columns="FRT median")
        .sub_missing(missing_text="—")
        .tab_options(
            table_font_size="12px", data_row_padding="3px", column_labels_font_weight="bold"
        )
    )


def key_value_table(
    rows: dict[str, Any], title: str | None = None, *, own_words: bool = False
) -> str:
    """A small two-column HTML table of labelled values (data quality, parameters).

    Text from the data may hold a word too long for a phone's width, so it may wrap anywhere;
    ``own_words`` says that the table holds none (only cxreports' own labels, numbers and
    dates), which then wrap between words only: a PDF sizes such a table word by word rather
    than letter by letter.
    """
    body = "".join(
        f'<tr><th scope="row">{html.escape(str(k))}</th><td>{html.escape(_plain(v))}</td></tr>'
        for k, v in rows.items()
    )
    caption = f"<caption>{html.escape(title)}</caption>" if title else ""
    kind = "cx-kv cx-kv-words" if own_words else "cx-kv"
    return f'<table class="{kind}">{caption}{body}</table>'


def _plain(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):  # names from the data (a filter's queues)
        return ", ".join(tame(str(v)) for v in value) or "all"
    return str(value)


#: How the data-quality panel names the fields of ``WeeklyMetrics.quality`` (its column names
#: are for code; a reader sees these).
FIELD_LABELS = {
    "agent_id": "agent",
    "queue_name": "queue",
    "channel": "channel",
    "closed_at": "close time",
    "handled_time_s": "handle time",
    "first_response_time_s": "first response time",
    "disposition": "disposition",
    "sla_status": "SLA status",
    "csat_status": "CSAT survey status",
    "direction": "direction",
}


def field_label(field: str) -> str:
    """The reader's name of a field in the data-quality panel.

    Examples
    --------
    >>> field_label("first_response_time_s"), field_label("new_field_s")
    ('first response time', 'new field')
    """
    return FIELD_LABELS.get(field, field.removesuffix("_s").replace("_", " "))


def data_quality(metrics: WeeklyMetrics) -> str:
    """The data-quality panel: what was read, superseded, deleted, quarantined, unknown.

    Fields are named as a reader knows them (:func:`field_label`), not by column name.
    """
    q = metrics.quality
    load, week = q["load"], q["week"]
    blocks = [
        key_value_table(
            {
                "Files read": load["files"],
                "Records read": load["records_read"],
                "Unique interactions": load["loaded"],
                "Older duplicates superseded": load["superseded"],
                "Quarantined (not loaded)": load["quarantined"],
                "First start seen": load["first_seen"],
                "Last start seen": load["last_seen"],
            },
            "Whole load",
            own_words=True,
        ),
        key_value_table(
            {
                "Interactions started this week": week["rows"],
                "Soft-deleted (left out)": week["deleted"],
                "Bot and AI-agent rooms (reported apart)": week["bot_rooms"],
                "Counted for agents": week["counted"],
                **{f"Missing {field_label(k)}": v for k, v in q["nulls"].items() if v},
            },
            "This week",
            own_words=True,
        ),
    ]
    unknown = q["unknown_values"]
    if unknown.height:
        blocks.append(
            key_value_table(
                {
                    f"{field_label(r['field'])} “{r['value']}”": r["count"]
                    for r in unknown.iter_rows(named=True)
                },
                "Unknown values (counted as shown in the glossary)",
            )
        )
    reasons = q["quarantine_reasons"]
    if reasons.height:
        blocks.append(
            key_value_table(
                {r["reason"]: r["count"] for r in reasons.head(8).iter_rows(named=True)},
                "Why records were quarantined",
            )
        )
    return f'<div class="cx-dq">{"".join(blocks)}</div>{_DQ_CSS}'


_DQ_CSS = f"""<style>
.cx-dq{{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}}
table.cx-kv{{font-size:13px;border-collapse:collapse;max-width:100%;min-width:16rem}}
table.cx-kv caption{{text-align:left;font-weight:600;padding-bottom:4px;color:{_P.TEXT}}}
table.cx-kv th,table.cx-kv td{{padding:2px 12px 2px 0;border-bottom:1px solid {_P.RULE};
  color:{_P.TEXT};text-align:left;vertical-align:top;overflow-wrap:anywhere}}
table.cx-kv th{{font-weight:normal}}table.cx-kv td{{font-weight:600;text-align:right}}
table.cx-kv-words th,table.cx-kv-words td{{overflow-wrap:break-word}}
</style>"""


def not_available() -> str:
    """The list of metrics this data cannot give, and why."""
    items = "".join(
        f"<li><b>{html.escape(name)}</b>: {html.escape(why)}.</li>"
        for name, why in NOT_AVAILABLE.items()
    )
    return f'<div class="cx-note"><b>Not available from this data</b><ul>{items}</ul></div>'


#: When an agent is flagged (``metrics.weekly._rank_and_flag``), in a reader's words: the
#: glossary's and the email's.
FLAG_RULES = (
    "ranked agents far from the whole team, on at least "
    f"{MIN_RATE_BASE} cases: AHT high or low, a mean handle time over 1.5x or under half the "
    "team's; FRT slow, a mean first response over twice the team's; resolved, SLA or CSAT low, "
    "a rate whose whole 95% interval lies below the team's"
)

#: What the reports' words and figures mean, in a reader's words (docs/metrics.md has the
#: formulas): the report's closing glossary, which "what changed" and the data-quality panel
#: refer to.
GLOSSARY: dict[str, str] = {
    "Handled": "interactions an agent handled that started in the week, in the report's time "
    "zone; deleted ones and bot or AI-agent rooms are not counted (bots are shown apart)",
    "Handle time (AHT)": "the platform's handled time of an interaction; the mean, the median "
    "(half took less) and the p90 (90% took less) are given, as the mean alone is pulled up by "
    "a few long cases",
    "First response (FRT)": "time from the start of an interaction to the agent's first reply",
    "FRT ≤ target": "share of first responses within the first-response target; a proxy, not "
    "a service level (it is one threshold for every channel)",
    "Put on hold, hold time": "share of interactions with a hold, and the mean hold of those",
    "Wrap-up": "after-contact work, the time spent on the wrap-up form",
    "Transferred": "the agent who closed an interaction is not the one it was first given to",
    "Resolved": "the interaction's disposition is Resolved",
    "First-contact resolution (FCR)": "resolved, not transferred, and the same contact did not "
    "come back within 7 days; provisional while the data does not reach 7 days past the week",
    "SLA met": "share of the platform's own SLA verdicts that say met; interactions without a "
    "verdict are left out, and every other verdict is a breach",
    "CSAT (4–5 of 5)": "share of survey answers that scored 4 or 5; the mean score and the "
    "response rate (answers of surveys sent) are given beside it",
    "95% interval (CI)": "the range a rate's true value lies in with 95% confidence, given "
    "how many cases it rests on; wide on few cases",
    "Better, worse, within noise": "a rate's change is better or worse only when last week's "
    "value lies outside this week's 95% interval; inside it, the change is within noise and "
    "gets no verdict; means get none",
    "Beyond noise (what changed)": "a difference that stays larger than chance after "
    "correcting for every comparison made (5% false-discovery rate)",
    "Volume mix and rate": "a change of a figure splits into mix (more or fewer interactions in "
    "a queue or channel whose level differs) and rate (the level within queues or channels "
    "moved)",
    "Minimum volume": "agents with fewer interactions than this are not ranked or flagged: "
    "their figures rest on too few cases",
    "Flags": FLAG_RULES,
    "Unknown values": "a field value the platform does not document (an SLA verdict other "
    "than meet or breach counts as a breach; an unknown survey status counts as sent)",
}


def glossary() -> str:
    """The closing glossary: what the report's figures and words mean (:data:`GLOSSARY`)."""
    items = "".join(
        f"<dt>{html.escape(term)}</dt><dd>{html.escape(text[0].upper() + text[1:])}.</dd>"
        for term, text in GLOSSARY.items()
    )
    return (
        f'<h2 id="Glossary">Glossary</h2><dl class="cx-glossary">{items}</dl>'
        '<p class="cx-method">Every formula is in the package\'s metric glossary '
        "(docs/metrics.md).</p>"
    )


def note(text: str) -> str:
    """A highlighted note (caveats such as the FCR window or missing CSAT)."""
    return f'<div class="cx-note">{html.escape(text)}</div>'


def header(metrics: WeeklyMetrics, title: str) -> str:
    """The report title, the week with its local dates, the time zone and any filters."""
    wk = metrics.week
    days = wk.days
    scope = []
    if metrics.params["queues"]:
        scope.append("queues: " + ", ".join(map(isolated, metrics.params["queues"])))
    if metrics.params["channels"]:
        scope.append("channels: " + ", ".join(map(isolated, metrics.params["channels"])))
    if metrics.params.get("teams"):
        scope.append("teams: " + ", ".join(map(isolated, metrics.params["teams"])))
    sub = f"{wk.label} · {days[0]:%a %d %b %Y} – {days[-1]:%a %d %b %Y} · time zone {wk.tz}" + (
        " · " + "; ".join(scope) if scope else ""
    )
    return (
        f'<div class="cx-header"><h1>{html.escape(title)}</h1>'
        f'<div class="cx-sub">{html.escape(sub)}</div></div>{_CARD_CSS}'
    )


def footer(metrics: WeeklyMetrics, fingerprint: str, version: str) -> str:
    """Parameters, data window, row counts, input fingerprint and version: traceability."""
    q = metrics.quality
    wk = metrics.week
    rows = {
        **{_PARAMETERS.get(k, k): _parameter(k, v) for k, v in metrics.params.items()},
        "Week (UTC)": f"{wk.start_utc:%Y-%m-%d %H:%M} to {wk.end_utc:%Y-%m-%d %H:%M}",
        "Data window": f"{_plain(q['load']['first_seen'])} to {_plain(q['load']['last_seen'])}",
        "Rows": f"{q['load']['records_read']:,} read, {q['week']['counted']:,} counted this week",
        "Input fingerprint": fingerprint,
        **(
            {
                "Store version": f"{q['load']['store_version']} (the same report again: "
                f"--as-of {q['load']['store_version']})"
            }
            if q["load"].get("store_version") is not None
            else {}
        ),
        "cxreports version": version,
        "Generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    body = "".join(
        f'<tr><th scope="row">{html.escape(k)}</th><td>{html.escape(_plain(v))}</td></tr>'
        for k, v in rows.items()
    )
    return f'<div class="cx-footer"><h3>Report details</h3><table>{body}</table></div>'


#: The footer's names of the report parameters (``WeeklyMetrics.params``); the option each
#: comes from is in brackets, for re-running the report.
_PARAMETERS = {
    "week": "Week (--week)",
    "tz": "Time zone (--tz)",
    "queues": "Queues (--queues)",
    "channels": "Channels (--channels)",
    "teams": "Teams (--teams)",
    "min_volume": "Minimum volume to rank (--min-volume)",
    "frt_target_s": "First-response target (--frt-target)",
    "trend_weeks": "Weeks of the trends",
    "csat_score_field": "CSAT score field (--csat-score-field)",
    "business_hours": "Business hours (--business-hours)",
}


def _parameter(name: str, value: Any) -> Any:
    """A parameter's value as the footer says it (the first-response target as m:ss too)."""
    if name == "frt_target_s":
        return f"{duration(value)} ({value:g} s)"
    return value


def data_start_local(metrics: WeeklyMetrics) -> datetime | None:
    """The data's first interaction (all of it, whatever the scope), in the report's zone."""
    began = metrics.quality.get("load", {}).get("first_seen")
    return None if began is None else began.astimezone(ZoneInfo(metrics.week.tz))


def data_begins(metrics: WeeklyMetrics) -> str | None:
    """A sentence when the data's first interaction falls a day or more into the week (the
    days before it are unknown, not quiet, and the week's figures and its chart by day cover
    only the rest of it) or after the week. None otherwise."""
    local = data_start_local(metrics)
    if local is None:
        return None
    began = local.astimezone(UTC)
    if not metrics.handled and began >= metrics.week.end_utc:
        return (
            f"The data begins on {local:%a %d %b %Y %H:%M} ({metrics.week.tz}), after this "
            "week ended: there is nothing to report for it."
        )
    if not metrics.handled or began - metrics.week.start_utc < PART_WEEK:
        return None
    return (
        f"The data begins on {local:%a %d %b %H:%M} ({metrics.week.tz}), part way through "
        "this week: its figures cover only the week from then, and the days before show no "
        "interactions because the data holds none, not because none came."
    )


def data_ends(metrics: WeeklyMetrics, *, compared: bool = True) -> str | None:
    """A sentence when the data's last interaction came before the week began (a report of
    nothing, which is not a week without contacts) or part way through it
    (:attr:`~cxreports.metrics.weekly.WeeklyMetrics.ends_early`: the days after are unknown,
    not quiet). None otherwise. ``compared``: the report has the headline and What changed,
    and the sentence says what each compares; else it speaks of the scorecards' baselines."""
    ended = metrics.quality.get("load", {}).get("last_seen")
    week = metrics.week
    if ended is None:
        return None
    local = ended.astimezone(ZoneInfo(week.tz))
    if ended < week.start_utc:
        return (
            f"The data ends on {local:%a %d %b %Y %H:%M} ({week.tz}), before this week "
            "began: there is nothing to report for it until newer data is loaded."
        )
    if metrics.ends_early is None:
        return None
    said = (
        f"The data ends on {local:%a %d %b %H:%M} ({week.tz}), part way through this week: "
        "its figures cover only the week until then, and the days after show no interactions "
        "because the data holds none, not because none came."
    )
    if not compared and metrics.scorecards is not None:
        said += (
            " Each agent's baseline counts their earlier weeks only up to the same point "
            f"({local:%a %H:%M})."
        )
    elif compared and metrics.kpis["previous"].is_not_null().any():  # against last week
        found = metrics.changes
        said += (
            f" The headline and the agents' changes compare it with last week up to the same "
            f"point ({local:%a %H:%M})"
            + (", and What changed every week." if found is not None and found.until else ".")
        )
    return said


def week_notes(metrics: WeeklyMetrics, *, fcr: bool = True, compared: bool = True) -> str:
    """Caveats the reader must see before the numbers (:func:`caveats`), as the report's
    notes."""
    return "".join(note(n) for n in caveats(metrics, fcr=fcr, compared=compared))


def caveats(
    metrics: WeeklyMetrics, *, fcr: bool = True, compared: bool = True, short: bool = False
) -> list[str]:
    """Caveats the reader must see before the numbers: empty week, no CSAT, where the data
    begins or ends, open FCR window.

    ``fcr=False`` leaves out the FCR caveat, for reports that show no FCR figure;
    ``compared=False`` says nothing of the headline and What changed, for reports without them
    (the scorecards); ``short`` leaves out what the report's own page explains (the email).
    """
    notes = []
    if outside_data(metrics):
        pass  # the data's notes below say where the data is; nothing else applies
    elif metrics.handled == 0:
        filters = scope.describe(
            metrics.params["queues"], metrics.params["channels"], metrics.params.get("teams", [])
        )
        within = f" for {filters}" if filters else ""
        notes.append(
            f"No interactions were handled by agents in this week{within}."
            + (
                ""
                if short
                else " The tables below are empty on purpose; check the week, the time zone, "
                "the filters and the source."
            )
        )
    elif not metrics.has_csat:
        notes.append(
            "No customer answered a CSAT survey this week"
            + ("." if short else ", so CSAT figures are shown as '—' rather than as zeros.")
        )
    notes += filter(None, (data_begins(metrics), data_ends(metrics, compared=compared)))
    if fcr and metrics.fcr_incomplete:
        notes.append(
            f"First-contact resolution looks 7 days ahead for a repeat contact; the data ends "
            f"before that window closes for {metrics.fcr_incomplete:,} of this week's "
            "interactions, so FCR may fall once later data arrives."
        )
    return notes


def bots_table(bots: pl.DataFrame) -> GT:
    """Bot and AI-agent rooms next to agent-handled ones: volume, share, outcomes."""
    shown = bots.select(
        pl.col("kind").alias("Handled by"),
        pl.col("rooms").alias("Rooms"),
        pl.col("share").alias("Share"),
        pl.col("resolved_rate").alias("Resolved"),
        pl.col("handled_mean_s")
        .map_elements(duration, return_dtype=pl.String, skip_nulls=False)
        .alias("Handle time mean"),
    )
    return (
        _sticky(GT(shown, rowname_col="Handled by"), "Handled by")
        .fmt_percent(columns=["Share", "Resolved"], decimals=0)
        .fmt_integer(columns="Rooms")
        .cols_align("right", columns="Handle time mean")
        .sub_missing(missing_text="—")
        .tab_options(table_font_size="12px", data_row_padding="3px")
    )


def csat_agents(metrics: WeeklyMetrics) -> GT:
    """CSAT per agent with responses and the 95% interval, agents with responses first.

    CSAT, its interval and its responses come first, beside the name: on a phone they are
    what shows before the table is scrolled sideways."""
    a = metrics.agents.sort(["csat_responses", "csat_rate"], descending=True, nulls_last=True)
    shown = a.select(
        agent_labels().alias("Agent"),
        pl.col("csat_rate").alias("CSAT"),
        _interval("csat_rate"),
        pl.col("csat_responses").alias("Responses"),
        pl.col("csat_score_mean").alias("Mean score"),
        pl.col("csat_response_rate").alias("Response rate"),
        pl.col("csat_sent").alias("Surveys sent"),
        pl.col("handled").alias("Handled"),
    )
    return (
        _whole_intervals(_sticky(GT(shown, rowname_col="Agent"), "Agent"), shown.columns)
        .fmt_percent(columns=["Response rate", "CSAT"], decimals=0)
        .fmt_number(columns="Mean score", decimals=2)
        .fmt_integer(columns=["Handled", "Surveys sent", "Responses"])
        .sub_missing(missing_text="—")
        .tab_options(table_font_size="12px", data_row_padding="3px")
    )


def _card_anchor(card: Any) -> str:
    """A page's anchor: stable and safe whatever the agent's id holds."""
    return "agent-" + hashlib.sha1(card.agent_id.encode()).hexdigest()[:10]


def scorecard_contents(metrics: WeeklyMetrics) -> str:
    """The list of scorecards, one link per agent: ranked agents (most handled first), then
    those below the minimum volume."""
    cards = metrics.scorecards.cards if metrics.scorecards is not None else ()
    if not cards:
        return note("No agent handled an interaction this week: there is no scorecard.")
    items = "".join(
        # a right-to-left name, or one holding a direction override, leaves the order of what
        # follows it alone
        f'<li><a href="#{_card_anchor(c)}">{html.escape(isolated(c.name))}</a>'
        f'<span class="cx-see"> · {c.handled:,} handled'
        + (f" · {html.escape(isolated(c.team))}" if c.team else "")
        + ("" if c.ranked else f" · below the minimum volume {NOT_RANKED}")
        + "</span></li>"
        for c in cards
    )
    return f'<h2 id="Contents">Contents</h2><ol class="cx-contents">{items}</ol>'


def scorecard_page(card: Any, metrics: WeeklyMetrics, charts: Sequence[str] = ()) -> str:
    """An agent's page: :func:`scorecard_head`, the wrap-up categories, then the ``charts``
    (SVG, side by side where the page is wide enough); a page of its own in the PDF."""
    if not card.ranked:
        return scorecard_head(card, metrics)
    shown = "".join(f'<div class="cx-scorecard-chart">{svg}</div>' for svg in charts)
    return (
        scorecard_head(card, metrics).removesuffix("</div>")
        + scorecard_categories(card)
        + f'<div class="cx-scorecard-charts">{shown}</div>'
        + "</div>"
    )


def scorecard_head(card: Any, metrics: WeeklyMetrics) -> str:
    """An agent's page: who, what they did, strengths and focus areas, and the figures this
    week against their 8-week baseline and their peers' median (a short page below the
    minimum volume)."""
    who = [f"{card.handled:,} handled this week"]
    if card.team:
        who.insert(0, f"team {isolated(card.team)}")
    if card.main_queue:
        who.append(f"mostly {isolated(card.main_queue)}")
    head = (
        f'<div class="cx-scorecard" id="{_card_anchor(card)}">'
        f"<h2>{html.escape(card.name)}</h2>"
        f'<p class="cx-sub">{html.escape(" · ".join(who))}</p>'
    )
    if not card.ranked:
        handled = f"{card.handled:,} interaction{'' if card.handled == 1 else 's'}"
        return head + (
            f"<p>{html.escape(isolated(card.name))} handled {handled} this week, "
            f"fewer than the minimum volume of {metrics.params['min_volume']:,}: too few to "
            "compare with peers or to read strengths and focus areas. Their figures are in the "
            "agent performance report.</p></div>"
        )

    def listed(labels: tuple[str, ...]) -> str:
        return html.escape(", ".join(labels)) if labels else "none beyond noise"

    own = ""
    for word in ("worse", "better"):
        labels = [label for label, r in card.own if r == word]
        if labels:
            # the labels hold commas ("Handle time, median"): a semicolon between them
            own += (
                f"<strong>{word.capitalize()} than their own 8 weeks:</strong> "
                f"{html.escape('; '.join(labels))}, but level with their peers (likely a "
                "change their queue shares). "
            )
    against = (
        f"against the median of {card.peers} peer{'s' * (card.peers != 1)}"
        if card.peers
        else "none, as no other agent is ranked to compare with"
    )
    readings = (
        f"<p><strong>▲ Strengths:</strong> {listed(card.strengths)}. "
        f"<strong>▼ Focus areas:</strong> {listed(card.focus)}. {own}"
        f'<span class="cx-see">Strengths and focus areas: {against}; every reading beyond '
        "noise after correcting for every agent and figure compared.</span></p>"
    )
    rows = []
    for f in card.figures.iter_rows(named=True):
        interval = (
            f"{format_value(f['unit'], f['low'])}–{format_value(f['unit'], f['high'])}"
            if f["low"] is not None
            else "—"
        )
        mark = _SCORECARD_READINGS.get(f["reading"] or "", "")
        tone = {"strength": "cx-good", "focus": "cx-bad"}.get(f["reading"] or "", "cx-flat")
        # four columns, the reading under the figure's name and the interval under its
        # value: on a phone the whole row shows without scrolling the table sideways
        reading = f'<br><span class="cx-reading {tone}">{mark}</span>' if mark else ""
        shown = format_value(f["unit"], f["now"])
        if f["low"] is not None:
            shown += f'<br><span class="cx-see">{interval}</span>'
        rows.append(
            f'<tr><th scope="row">{html.escape(f["label"])}{reading}</th>'
            f'<td class="num">{shown}</td>'
            f'<td class="num">{format_value(f["unit"], f["baseline"])}</td>'
            f'<td class="num">{format_value(f["unit"], f["peers"])}</td></tr>'
        )
    heads = ("Figure", "This week <br>(95% interval)", "Own 8 weeks", "Peer median")
    table = (
        '<div class="cx-table-scroll"><table class="cx-hours cx-figures"><thead><tr>'
        + "".join(f'<th scope="col">{h}</th>' for h in heads)
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
    return head + readings + table + "</div>"


#: A scorecard figure's reading as its table says it (``Card.figures.reading``).
_SCORECARD_READINGS = {
    "strength": "▲ strength",
    "focus": "▼ focus",
    "better": "better than own 8 weeks",
    "worse": "worse than own 8 weeks",
}


def scorecards_below_minimum(metrics: WeeklyMetrics) -> str:
    """One page for every agent below the minimum volume (a page each held two lines): who,
    how many they handled, their team and main queue; each row is the agent's contents link."""
    cards = [c for c in (metrics.scorecards.cards if metrics.scorecards else ()) if not c.ranked]
    if not cards:
        return ""
    teams = any(c.team for c in cards)  # a column of dashes without a teams mapping
    rows = "".join(
        f'<tr id="{_card_anchor(c)}"><th scope="row">{html.escape(isolated(c.name))}</th>'
        f'<td class="num">{c.handled:,}</td>'
        + (f"<td>{html.escape(isolated(c.team)) if c.team else '—'}</td>" if teams else "")
        + f"<td>{html.escape(isolated(c.main_queue)) if c.main_queue else '—'}</td></tr>"
        for c in cards
    )
    heads = ("Agent", "Handled", *(["Team"] if teams else []), "Main queue")
    minimum = metrics.params["min_volume"]
    return (
        '<div class="cx-scorecard" id="below-minimum"><h2>Below the minimum volume</h2>'
        f"<p>{len(cards):,} agent{'' if len(cards) == 1 else 's'} handled fewer than "
        f"{minimum:,} interactions this week: too few to compare with peers or to read "
        "strengths and focus areas, so they have no scorecard. Their figures are in the agent "
        'performance report.</p><div class="cx-table-scroll"><table class="cx-hours"><thead><tr>'
        + "".join(f'<th scope="col">{h}</th>' for h in heads)
        + f"</tr></thead><tbody>{rows}</tbody></table></div></div>"
    )


def scorecard_categories(card: Any) -> str:
    """The agent's first-level wrap-up categories this week, most frequent first, in a line."""
    if not card.categories.height:
        return '<p class="cx-see">No wrap-up category was recorded this week.</p>'
    shown = " · ".join(
        f"{html.escape(isolated(r['category'] or '(none)'))} {r['count']:,} ({r['share']:.0%})"
        for r in card.categories.head(6).iter_rows(named=True)
    )
    more = card.categories.height - 6
    return (
        f"<p><strong>Wrap-up categories:</strong> {shown}"
        + (f" · {more} more" if more > 0 else "")
        + "</p>"
    )
