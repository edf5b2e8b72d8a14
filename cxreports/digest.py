"""The email digest of a report week: a small body that mail apps show whole, from the metrics.

Mail clients drop SVG, ``data:`` images and scripts, Gmail clips bodies over ~100 KB, Outlook for
Windows lays out with Word (no flex or grid, widths from attributes) and phone apps show the
body 320-430 px wide, some in dark mode. So the email is not the notebook HTML: it is one column
of presentation tables, at most :data:`MAX_WIDTH` wide, with the headline KPIs (each with its
sample size and whether its change is within noise), the top agents with their flags beside the
name, and two charts as opaque PNG (attached by ``cid:``, text legible at 390 px), plus a
plain-text twin with the same facts. The full reports go along as attachments. A rendered week
keeps its digest in ``<week>/email/`` (:mod:`cxreports.digestfiles`) so that sending needs no
data and no kernel.
"""

from __future__ import annotations

import html
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

import altair as alt
import polars as pl
import vl_convert

from cxreports import chartfont, charts, palette, tables
from cxreports.mail import EmailBody
from cxreports.metrics import WeeklyMetrics
from cxreports.metrics import changes as changes_
from cxreports.metrics.weekly import reading
from cxreports.schema import agent_labels, isolated
from cxreports.tables import duration, format_change, format_value
from cxreports.targets import STATUS

#: Agents listed in the email (ranked ones, by volume); the full table is in the attachment.
TOP_AGENTS = 10
#: The widest the email is drawn, in CSS px: the column every mail client fits on a screen.
MAX_WIDTH = 600
#: Plot width of the email charts in their own px; with axes they are about 440 px wide, so
#: shown across a 390 px phone they shrink by no more than 390/440.
CHART_PLOT_WIDTH = 370
#: The smallest text in an email chart, in the chart's own px: 13 px shrunk by 390/440 is
#: still 11.5 px on a phone.
CHART_FONT = 13
#: Pixels per chart px of the PNGs: sharp on the 2x screens of phones.
PNG_SCALE = 2

#: Headline KPIs of the email, in order.
KPIS = (
    "handled", "sla_met_rate", "csat_rate", "resolved_rate", "fcr_rate",
    "aht_s", "frt_mean_s", "csat_score_mean", "transfer_rate", "hold_rate",
    # with business hours only
    "frt_business_mean_s", "outside_hours_rate",
)  # fmt: skip
#: The trends over the last weeks that the email draws: column -> (title, d3 format).
TRENDS = {"sla_met_rate": ("SLA met", ".0%"), "csat_rate": ("CSAT (4-5 of 5)", ".0%")}

# Durations are skewed (a few slow emails move a mean far from the typical case), so the email
# names the mean as a mean and shows the median beside it.
_LABELS = {"aht_s": "Handle time (mean)", "frt_mean_s": "First response (mean)"}
_MEDIANS = {
    "aht_s": "aht_median_s",
    "frt_mean_s": "frt_median_s",
    "frt_business_mean_s": "frt_business_median_s",
}

_Tone = Literal["good", "bad", "muted"]
_COLOURS: dict[_Tone, str] = {
    "good": palette.GOOD_TEXT,
    "bad": palette.BAD_TEXT,
    "muted": palette.MUTED,
}


@dataclass(frozen=True)
class _Kpi:
    """One headline figure as the email says it, in HTML and in text alike."""

    label: str
    value: str
    detail: str  # median, n and interval: "n=539 · 95% CI 72–79%"
    change: str  # "▼ −2.9 pp vs 78.2%", or "" without a previous week
    verdict: str  # "better", "worse", "within noise", "provisional", "no data last week" or ""
    tone: _Tone
    few: bool  # n below FEW_CASES


@dataclass(frozen=True)
class _Rate:
    value: str
    n: int
    few: bool

    def text(self) -> str:
        if self.value == "—":
            return self.value
        return f"{self.value} (n={self.n:,}{', few cases' if self.few else ''})"


@dataclass(frozen=True)
class _Agent:
    name: str
    flags: str
    handled: int
    aht: str
    resolved: str
    sla: _Rate
    csat: _Rate
    targets: str = ""  # "✓ SLA met · ✗ Handle time, mean", with whole-week targets


@dataclass(frozen=True)
class _Team:
    name: str
    lead: str
    handled: int
    aht: str
    sla: _Rate
    csat: _Rate
    targets: str


@dataclass(frozen=True)
class _Image:
    name: str
    title: str
    alt: str
    png: bytes

    @property
    def size(self) -> tuple[int, int]:
        """Width and height in CSS px (the PNG's pixels over :data:`PNG_SCALE`)."""
        width, height = struct.unpack(">II", self.png[16:24])
        return round(width / PNG_SCALE), round(height / PNG_SCALE)


@dataclass(frozen=True)
class _Digest:
    subject: str
    title: str
    period: str
    scope: str
    notes: list[str]
    changes: list[str]
    kpis: list[_Kpi]
    agents: list[_Agent]
    teams: list[_Team]
    ranked: int
    unranked: int
    min_volume: int
    images: list[_Image]


def build(metrics: WeeklyMetrics, *, title: str = "Weekly contact-center report") -> EmailBody:
    """The email body of one week (and one recipient scope, if the metrics are filtered).

    Examples
    --------
    >>> from cxreports import load, weekly
    >>> body = build(weekly(load("tests/data/seed_page.json"), "2026-W14"))
    >>> body.subject
    'Weekly contact-center report · 2026-W14 (UTC)'
    >>> sorted(body.images)
    ['daily', 'trend']
    """
    wk = metrics.week
    scope = ", ".join(
        map(
            isolated,
            metrics.params["queues"] + metrics.params["channels"] + metrics.params.get("teams", []),
        )
    )
    days = wk.days
    notes = tables.caveats(metrics, fcr=False, short=True)
    ranked = metrics.agents.filter(pl.col("ranked"))
    digest = _Digest(
        subject=f"{title} · {wk.label} ({wk.tz})" + (f" · {scope}" if scope else ""),
        title=title,
        period=f"{wk.label} · {days[0]:%a %d %b} – {days[-1]:%a %d %b %Y} · {wk.tz}",
        scope=scope,
        notes=notes,
        changes=[
            *(metrics.changes.sentences if metrics.changes is not None else []),
            *filter(None, [tables.card_readings(metrics, KPIS)]),
        ],
        kpis=_kpis(metrics),
        agents=_agents(ranked),
        teams=_teams(metrics),
        ranked=ranked.height,
        unranked=metrics.agents.height - ranked.height,
        min_volume=metrics.params["min_volume"],
        images=[
            _Image("daily", "Handled per day", _daily_alt(metrics), _daily_png(metrics)),
            _Image(
                "trend",
                f"{metrics.trend.height}-week trends",
                _trend_alt(metrics),
                _trend_png(metrics),
            ),
        ],
    )
    return EmailBody(
        subject=digest.subject,
        html=_html(digest),
        text=_text(digest),
        images={image.name: image.png for image in digest.images},
    )


def chart_spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The Vega-Lite spec of a report chart as the email draws it.

    Side-by-side panels are stacked into one column, every plot is :data:`CHART_PLOT_WIDTH`
    wide, no text is smaller than :data:`CHART_FONT`, every colour comes from
    :mod:`cxreports.palette` (a mark of one colour takes its primary one), and the background
    is opaque white, so a mail app in dark mode
    cannot turn the chart's dark text into dark-on-dark.

    Examples
    --------
    >>> spec = chart_spec(charts.trend(pl.DataFrame({"iso_week": ["2026-W13"], "x": [0.5]}),
    ...                                {"x": ("X", ".0%")}))
    >>> spec["background"], spec["vconcat"][0]["width"] == CHART_PLOT_WIDTH
    ('#FFFFFF', True)
    """
    # the reports' theme, whatever theme the process has enabled: a kernel that rendered a
    # report (or a notebook that enabled its own theme) draws the same email as a new one
    with alt.theme.enable("cxreports"):
        spec = chart.to_dict(validate=False)  # the report charts' specs are checked by the tests
    _fit(spec)
    spec["background"] = palette.BACKGROUND
    # the chart runs edge to edge on a phone: its own margin keeps the axis off the edge
    spec["padding"] = {"left": 12, "right": 12, "top": 6, "bottom": 6}
    config = spec.setdefault("config", {})
    config["font"] = charts.FONT
    for part, values in {
        "axis": {
            "labelFontSize": CHART_FONT,
            "titleFontSize": CHART_FONT,
            "labelColor": palette.TEXT,
            "titleColor": palette.MUTED,
            "domainColor": palette.MUTED,
            "tickColor": palette.MUTED,
            "gridColor": palette.RULE,
        },
        "legend": {
            "labelFontSize": CHART_FONT,
            "titleFontSize": CHART_FONT,
            "labelColor": palette.TEXT,
            "titleColor": palette.MUTED,
        },
        "title": {
            "fontSize": CHART_FONT,
            "fontWeight": "bold",
            "subtitleFontSize": CHART_FONT,
            "color": palette.TEXT,
            "anchor": "start",
        },
        "header": {"labelFontSize": CHART_FONT, "titleFontSize": CHART_FONT},
        "text": {"fontSize": CHART_FONT},
    }.items():
        config[part] = {**config.get(part, {}), **values}
    return spec


def _fit(node: object) -> None:
    """Stack, widen and enlarge the text of a chart spec in place (see :func:`chart_spec`)."""
    if isinstance(node, list):
        for item in node:
            _fit(item)
        return
    if not isinstance(node, dict):
        return
    if "hconcat" in node:
        node["vconcat"] = node.pop("hconcat")
    if isinstance(node.get("width"), int | float) and ("mark" in node or "layer" in node):
        node["width"] = CHART_PLOT_WIDTH
    mark = node.get("mark")
    if mark == "text":
        node["mark"] = mark = {"type": "text"}
    if isinstance(mark, dict) and mark.get("type") == "text":
        size = mark.get("fontSize", CHART_FONT)
        if size < CHART_FONT:
            # a label offset from its point grows with its text, or the two overlap
            for offset in ("dx", "dy"):
                if isinstance(mark.get(offset), int | float):
                    mark[offset] = round(mark[offset] * CHART_FONT / size)
            mark["fontSize"] = CHART_FONT
        mark["color"] = palette.TEXT
    elif isinstance(mark, dict) and "color" in mark:
        mark["color"] = palette.PRIMARY  # the email's charts are one series each
    for key, value in node.items():
        if key not in ("data", "datasets"):  # rows of data are not spec
            _fit(value)


def _png(spec: dict[str, Any]) -> bytes:
    # with the small copy of the chart font where the text allows: the same pixels, sooner
    return vl_convert.vegalite_to_png(chartfont.swapped(spec) or spec, scale=PNG_SCALE)


def _daily_spec(metrics: WeeklyMetrics) -> dict[str, Any]:
    # the chart labels its days itself ("Mon 23"), as the report does
    return chart_spec(charts.daily_volume(metrics.daily))


def _daily_png(metrics: WeeklyMetrics) -> bytes:
    return _png(_daily_spec(metrics))


def _trend_png(metrics: WeeklyMetrics) -> bytes:
    return _png(chart_spec(charts.trend(metrics.trend, TRENDS)))


def _daily_alt(metrics: WeeklyMetrics) -> str:
    days = metrics.daily.select("day", "handled")
    span = f"{days['day'][0]:%a %d %b} to {days['day'][-1]:%a %d %b}"
    if metrics.handled == 0:
        return f"Bar chart of interactions handled per day, {span}: none this week."
    most = days.sort("handled", descending=True, maintain_order=True).row(0)
    said = (
        f"Bar chart of interactions handled per day, {span}: {metrics.handled:,} in total, "
        f"most on {most[0]:%a %d} ({most[1]:,})"
    )
    began = tables.data_start_local(metrics)
    if began is not None:  # a day before the data is unknown, not the fewest
        first = began.date()
        if first > days["day"][0]:
            days = days.filter(pl.col("day") >= first)
            said += f", no data before {first:%a %d}"
    if metrics.ends_early is not None:  # nor a day after it
        last = metrics.ends_early.astimezone(ZoneInfo(metrics.week.tz)).date()
        days = days.filter(pl.col("day") <= last)
        said += f", no data after {last:%a %d}"
    if days.height > 1:
        fewest = days.sort("handled", maintain_order=True).row(0)
        said += f", fewest on {fewest[0]:%a %d} ({fewest[1]:,})"
    return said + "."


def _trend_alt(metrics: WeeklyMetrics) -> str:
    weeks = metrics.trend["iso_week"]
    parts = []
    for column, (title, _) in TRENDS.items():
        values = metrics.trend[column]
        if values.null_count() == values.len():
            parts.append(f"{title}: no data in these weeks")
            continue
        last, known = values[-1], values.drop_nulls()
        low, high = f"{known.min():.0%}", f"{known.max():.0%}"
        if last is None:  # the weeks before hold what there is
            earlier = (
                f"{low} in the one week before with data"
                if known.len() == 1
                else (f"between {low} and {high} in the weeks before")
            )
            parts.append(f"{title}: no data in {weeks[-1]}, {earlier}")
        elif known.len() == 1:
            parts.append(f"{title} {last:.0%} in {weeks[-1]}, the only week with data")
        elif low == high:
            parts.append(f"{title} {last:.0%} in {weeks[-1]}, {low} in every week with data")
        else:
            parts.append(f"{title} {last:.0%} in {weeks[-1]}, between {low} and {high}")
    titles = " and ".join(title for title, _ in TRENDS.values())
    return f"Line charts of {titles} per week, {weeks[0]} to {weeks[-1]}: " + "; ".join(parts) + "."


def _kpis(metrics: WeeklyMetrics) -> list[_Kpi]:
    rows = {k["metric"]: k for k in metrics.kpis.iter_rows(named=True)}
    goals = {}
    if metrics.targets is not None:
        goals = {
            g["metric"]: g for g in metrics.targets.iter_rows(named=True) if g["scope"] == "all"
        }
    out = []
    for metric in (m for m in KPIS if m in rows):
        k = rows[metric]
        unit, value = k["unit"], k["value"]
        details = []
        median = metrics.summary[_MEDIANS[metric]].item() if metric in _MEDIANS else None
        if median is not None:
            details.append(f"median {duration(median)}")
        few = unit != "count" and value is not None and k["n"] < FEW_CASES
        if unit != "count" and value is not None:
            details.append(f"n={k['n']:,}")
        if k["low"] is not None:
            details.append(f"95% CI {k['low']:.0%}–{k['high']:.0%}")
        if goal := goals.get(metric):
            op = goal["op"].replace(">=", "≥").replace("<=", "≤")
            details.append(
                f"{STATUS[goal['status']]} (target {op} {format_value(unit, goal['bound'])})"
            )
        change, verdict, tone = "", "no data last week", "muted"
        if k["change"] is not None:
            arrow = "▲" if k["change"] > 0 else ("▼" if k["change"] < 0 else "■")
            change = (
                f"{arrow} {format_change(unit, k['change'])} vs {format_value(unit, k['previous'])}"
            )
            verdict, tone = _verdict(k)
        elif value is None:
            verdict = ""
        out.append(
            _Kpi(
                label=_LABELS.get(metric, k["label"]),
                value=format_value(unit, value),
                detail=" · ".join(details),
                change=change,
                verdict=verdict,
                tone=tone,
                few=few,
            )
        )
    return out


def _verdict(kpi: dict[str, Any]) -> tuple[str, _Tone]:
    """Better or worse only where the 95% interval says the change is more than noise: the
    report's card reading (:func:`~cxreports.metrics.weekly.reading`), in the email's tones."""
    word = reading(kpi)
    return word, {"better": "good", "worse": "bad"}.get(word, "muted")


def _agents(ranked: pl.DataFrame) -> list[_Agent]:
    top = (
        ranked.sort("handled", descending=True, maintain_order=True)
        .head(TOP_AGENTS)
        .with_columns(agent_labels().alias("agent"))
    )
    return [
        _Agent(
            name=a["agent"],
            flags=a["flags"] or "",
            handled=a["handled"],
            aht=duration(a["aht_s"]),
            resolved="—" if a["resolved_rate"] is None else f"{a['resolved_rate']:.0%}",
            sla=_rate(a["sla_met_rate"], a["sla_eligible"]),
            csat=_rate(a["csat_rate"], a["csat_responses"]),
            targets=a.get("targets") or "",
        )
        for a in top.iter_rows(named=True)
    ]


def _rate(value: float | None, n: int) -> _Rate:
    if value is None:
        return _Rate("—", n, few=False)
    return _Rate(f"{value:.0%}", n, few=n < FEW_CASES)


def _teams(metrics: WeeklyMetrics) -> list[_Team]:
    """The team roll-up, with a teams mapping: every team of the week, Unassigned last."""
    if metrics.teams is None:
        return []
    return [
        _Team(
            name=t["team"],
            lead=t["lead"] or "",
            handled=t["handled"],
            aht=duration(t["aht_s"]),
            sla=_rate(t["sla_met_rate"], t["sla_eligible"]),
            csat=_rate(t["csat_rate"], t["csat_responses"]),
            targets=t.get("targets") or "",
        )
        for t in metrics.teams.iter_rows(named=True)
    ]


def _footnotes(d: _Digest, few: str) -> list[str]:
    """What the marks and words of the email mean; ``few`` says it of the few-cases mark."""
    rates = [rate for x in (*d.agents, *d.teams) for rate in (x.sla, x.csat)]
    notes = [few] if any(k.few for k in d.kpis) or any(r.few for r in rates) else []
    return [
        *notes,
        "Better or worse: last week's value lies outside this week's 95% interval (CI); within "
        "noise: inside it."
        + (
            " Provisional: first-contact resolution while the data does not reach the end of "
            "its 7-day window."
            if any(k.verdict == "provisional" for k in d.kpis)
            else ""
        )
        + " Changes of averages and of the other rates are shown without a verdict.",
        f"Flags mark {tables.FLAG_RULES}.",
        "Times are m:ss (h:mm:ss from an hour); a mean is labelled as such, with the median.",
        "The full reports (PDF and HTML) are attached; their glossary defines every metric.",
    ]


_SMALL_SAMPLE = "a sample this small can swing widely by chance."
#: Fewest cases under a figure before the email marks it "few cases": the cases a comparison of
#: What changed needs on a side. Fixed, not the ranking's minimum volume: a minimum of 1000
#: marked a team's SLA on 531 verdicts, and a minimum of 1 left a CSAT of 1 answer unmarked.
FEW_CASES = changes_.MIN_CASES


def _ranking(d: _Digest) -> str:
    """What the top-agents list holds, out of whom; with no ranked agent, why not.

    Examples
    --------
    >>> from types import SimpleNamespace as D
    >>> print(_ranking(D(agents=[1], ranked=1, unranked=1, min_volume=20)))
    The 1 ranked agent (at least 20 handled). 1 more agent has fewer and is in the attached report.
    >>> _ranking(D(agents=[1, 2], ranked=5, unranked=0, min_volume=20))
    '2 of 5 ranked agents (at least 20 handled).'
    >>> _ranking(D(agents=[], ranked=0, unranked=3, min_volume=20))[:73]
    'No agent is ranked this week: all 3 active agents handled fewer than 20. '
    """
    if not d.ranked:
        if not d.unranked:
            return "No agent handled an interaction this week."
        who = (
            "the only active agent handled"
            if d.unranked == 1
            else f"all {d.unranked:,} active agents handled"
        )
        return (
            f"No agent is ranked this week: {who} fewer than {d.min_volume}. Their figures are "
            "in the attached report."
        )
    shown = (
        f"The {d.ranked} ranked agent{'s' * (d.ranked > 1)}"
        if len(d.agents) == d.ranked
        else f"{len(d.agents)} of {d.ranked} ranked agents"
    ) + f" (at least {d.min_volume} handled)."
    if not d.unranked:
        return shown
    more = "agent has fewer and is" if d.unranked == 1 else "agents have fewer and are"
    return f"{shown} {d.unranked:,} more {more} in the attached report."


def _esc(value: object) -> str:
    return html.escape(str(value))


# ---- HTML -------------------------------------------------------------------------------------
# Tables with role="presentation" lay the email out: Outlook for Windows draws with Word, which
# ignores flex, grid and max-width, so widths are attributes and a 600 px table wraps the body
# for Outlook only (conditional comments). Every style is inline: many apps drop <style>.

_FONT = "font-family:Arial,Helvetica,sans-serif;"
#: Text that may hold a name from the data (a queue's, a category's) wraps anywhere, so that a
#: long name without spaces never widens the email past a phone's screen.
_WRAP = "overflow-wrap:anywhere;word-break:break-word;"
_PAD = "padding-left:16px;padding-right:16px;"
_H2 = f"{_FONT}margin:0;font-size:17px;line-height:22px;font-weight:700;color:{palette.TEXT};"
_SMALL = f"{_FONT}font-size:12px;line-height:16px;color:{palette.MUTED};"
_TH = (
    f"{_FONT}padding:6px 4px;font-size:12px;line-height:15px;font-weight:700;"
    f"color:{palette.MUTED};background:{palette.SURFACE};border-bottom:1px solid {palette.RULE};"
)
_TD = (
    f"{_FONT}padding:7px 4px;font-size:14px;line-height:18px;color:{palette.TEXT};"
    f"border-bottom:1px solid {palette.RULE};vertical-align:top;"
)
_LAYOUT = 'role="presentation" cellpadding="0" cellspacing="0" border="0"'
# Light only: mail apps in dark mode and Chrome's forced dark leave the colours alone.
_SCHEME = "color-scheme:light only;supported-color-schemes:light"
_DATA = 'cellpadding="0" cellspacing="0" border="0" width="100%" style="border-collapse:collapse"'

_HEAD = """<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="x-apple-disable-message-reformatting">
<meta name="color-scheme" content="light only">
<meta name="supported-color-schemes" content="light">
<style>
:root { color-scheme: light only; supported-color-schemes: light; }
body { margin: 0; padding: 0; }
@media (max-width: 480px) { .cx-pad { padding-left: 12px !important;
  padding-right: 12px !important; } }
</style>
<!--[if mso]><style>table, td, th, p, h1, h2 { font-family: Arial, sans-serif; }</style>
<![endif]-->"""


def _html(d: _Digest) -> str:
    sections = [
        _row(
            f'<h1 style="{_FONT}{_WRAP}margin:0;font-size:21px;line-height:27px;font-weight:700;'
            f'color:{palette.TEXT}">{_esc(d.title)}</h1>'
            f'<p style="{_SMALL}margin:4px 0 0;font-size:14px;line-height:20px">'
            f"{_esc(d.period)}</p>"
            + (
                f'<p style="{_SMALL}{_WRAP}margin:2px 0 0;font-size:14px;line-height:20px">'
                f"Scope: {_esc(d.scope)}</p>"
                if d.scope
                else ""
            ),
            top=20,
        ),
        *(
            _row(
                f'<p style="{_FONT}{_WRAP}margin:0;padding:8px 10px;font-size:14px;'
                f"line-height:20px;color:{palette.TEXT};background:{palette.SURFACE};"
                f'border-left:4px solid {palette.BAD_TEXT}">{_esc(note)}</p>',
                top=12,
            )
            for note in d.notes
        ),
        *(
            (
                _row(f'<h2 style="{_H2}">What changed</h2>', top=20),
                _row(
                    "".join(
                        f'<p style="{_FONT}{_WRAP}margin:0 0 8px;font-size:15px;line-height:21px;'
                        f'color:{palette.TEXT}">{_esc(sentence)}</p>'
                        for sentence in d.changes
                    ),
                    top=6,
                ),
            )
            if d.changes
            else ()
        ),
        _row(f'<h2 style="{_H2}">Headline</h2>', top=20),
        _row(_kpi_table(d.kpis), top=6),
        *(
            (_row(f'<h2 style="{_H2}">Teams</h2>', top=24), _row(_team_table(d), top=6))
            if d.teams
            else ()
        ),
        _row(f'<h2 style="{_H2}">Top agents by volume</h2>', top=24),
        _row(_agent_table(d) if d.agents else _para(_ranking(d)), top=6),
        *((_row(_para(_ranking(d), small=True), top=6),) if d.agents else ()),
    ]
    for image in d.images:
        width, height = image.size
        sections += [
            _row(f'<h2 style="{_H2}">{_esc(image.title)}</h2>', top=24),
            # edge to edge: on a phone the chart gets the whole screen width, so its text
            # stays legible; width/height attributes are what Outlook goes by
            '<tr><td style="padding:6px 0 0">'
            f'<img src="cid:{image.name}" alt="{_esc(image.alt)}" width="{MAX_WIDTH}" '
            f'height="{round(height * MAX_WIDTH / width)}" style="display:block;width:100%;'
            f"max-width:{MAX_WIDTH}px;height:auto;border:0;outline:none;text-decoration:none;"
            f'background:{palette.BACKGROUND}"></td></tr>',
        ]
    sections.append(
        _row(
            "".join(
                f'<p style="{_SMALL}margin:0 0 6px">{_esc(note)}</p>'
                for note in _footnotes(d, f"* Fewer than {FEW_CASES} cases: {_SMALL_SAMPLE}")
            ),
            top=20,
            bottom=20,
        )
    )
    preheader = " · ".join(f"{k.label} {k.value}" for k in d.kpis[:3])
    return (
        f'<!DOCTYPE html><html lang="en" style="{_SCHEME}">'
        f"<head>{_HEAD}<title>{_esc(d.subject)}</title></head>"
        f'<body style="margin:0;padding:0;background:{palette.SURFACE};'
        f'{_SCHEME}">'
        # the first words mail apps show beside the subject in the inbox; hidden here
        f'<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">'
        f"{_esc(preheader)}</div>"
        f'<table {_LAYOUT} width="100%" bgcolor="{palette.SURFACE}" '
        f'style="background:{palette.SURFACE}"><tr><td align="center" style="padding:16px 0">'
        f'<!--[if mso]><table {_LAYOUT} width="{MAX_WIDTH}" align="center"><tr><td><![endif]-->'
        f'<table {_LAYOUT} width="100%" bgcolor="{palette.BACKGROUND}" '
        f'style="width:100%;max-width:{MAX_WIDTH}px;background:{palette.BACKGROUND};'
        f'margin:0 auto">{"".join(sections)}</table>'
        "<!--[if mso]></td></tr></table><![endif]-->"
        "</td></tr></table></body></html>"
    )


def _row(content: str, *, top: int = 0, bottom: int = 0) -> str:
    return (
        f'<tr><td class="cx-pad" style="{_PAD}padding-top:{top}px;padding-bottom:{bottom}px">'
        f"{content}</td></tr>"
    )


def _para(text: str, *, small: bool = False) -> str:
    style = _SMALL if small else f"{_FONT}font-size:14px;line-height:20px;color:{palette.TEXT};"
    return f'<p style="{style}{_WRAP}margin:0">{_esc(text)}</p>'


def _kpi_table(kpis: Iterable[_Kpi]) -> str:
    rows = []
    for k in kpis:
        star = "*" if k.few else ""
        verdict = (
            f' · <b style="color:{_COLOURS[k.tone]}">{_esc(k.verdict)}</b>'
            if k.verdict and k.tone != "muted"
            else (f" · {_esc(k.verdict)}" if k.verdict else "")
        )
        change = f'<span style="color:{_COLOURS[k.tone]}">{_esc(k.change)}</span>'
        if not k.change:
            change, verdict = "", _esc(k.verdict)
        rows.append(
            f'<tr><td style="{_TD}padding-left:0">{_esc(k.label)}'
            + (f'<div style="{_SMALL}">{_esc(k.detail)}{star}</div>' if k.detail else "")
            + f'</td><td align="right" style="{_TD}padding-right:0;text-align:right">'
            f'<span style="font-size:17px;line-height:22px;font-weight:700">{_esc(k.value)}'
            f'</span><div style="{_SMALL}">{change}{verdict}</div></td></tr>'
        )
    return (
        f"<table {_DATA}><tr>"
        f'<th scope="col" align="left" style="{_TH}padding-left:0;text-align:left">Measure</th>'
        f'<th scope="col" align="right" style="{_TH}padding-right:0;text-align:right">'
        f"This week · change vs last week</th></tr>{''.join(rows)}</table>"
    )


def _agent_table(d: _Digest) -> str:
    rows = [
        _name_cell(
            a.name,
            (
                f'<div style="{_SMALL}color:{palette.BAD_TEXT};font-weight:700">'
                f"Flag: {_esc(a.flags)}</div>"
                if a.flags
                else ""
            )
            + _target_lines(a.targets),
        )
        + _number_cells(
            f"{a.handled:,}", _esc(a.aht), _esc(a.resolved), _rate_cell(a.sla), _rate_cell(a.csat)
        )
        for a in d.agents
    ]
    heads = ["Agent", "Handled", "AHT mean", "Resolved", "SLA met", "CSAT"]
    return f"<table {_DATA}>{_head_row(heads)}{''.join(rows)}</table>"


def _team_table(d: _Digest) -> str:
    rows = [
        _name_cell(
            t.name,
            (f'<div style="{_SMALL}">{_esc(t.lead)}</div>' if t.lead else "")
            + _target_lines(t.targets),
        )
        + _number_cells(f"{t.handled:,}", _esc(t.aht), _rate_cell(t.sla), _rate_cell(t.csat))
        for t in d.teams
    ]
    heads = ["Team", "Handled", "AHT mean", "SLA met", "CSAT"]
    return f"<table {_DATA}>{_head_row(heads)}{''.join(rows)}</table>"


def _rate_cell(r: _Rate) -> str:
    if r.value == "—":
        return r.value
    return f'{r.value}<div style="{_SMALL}">n={r.n:,}{"*" if r.few else ""}</div>'


def _name_cell(name: str, below: str) -> str:
    """The first cell of a row: a name that may wrap anywhere, and what goes under it."""
    return (
        f'<tr><td style="{_TD}padding-left:0;overflow-wrap:anywhere;word-break:break-word">'
        f"{_esc(name)}{below}</td>"
    )


def _number_cells(*values: str) -> str:
    """The rest of a row: right-aligned figures, the last flush with the table's edge."""
    number = f"{_TD}text-align:right;white-space:nowrap;"
    cells = [
        f'<td align="right" style="{number}{"padding-right:0" if i == len(values) - 1 else ""}">'
        f"{value}</td>"
        for i, value in enumerate(values)
    ]
    return "".join(cells) + "</tr>"


def _head_row(heads: list[str]) -> str:
    """A header row: the first column left-aligned, the figures right-aligned."""
    cells = []
    for i, name in enumerate(heads):
        align = "left" if i == 0 else "right"
        edge = ";padding-left:0" if i == 0 else (";padding-right:0" if i == len(heads) - 1 else "")
        cells.append(
            f'<th scope="col" align="{align}" style="{_TH}text-align:{align}{edge}">{name}</th>'
        )
    return f"<tr>{''.join(cells)}</tr>"


def _target_lines(targets: str) -> str:
    """A group's target statuses under its name, one a line (``""`` without targets)."""
    if not targets:
        return ""
    lines = "<br>".join(_esc(t) for t in targets.split(" · "))
    return f'<div style="{_SMALL}">{lines}</div>'


# ---- text -------------------------------------------------------------------------------------


def _text(d: _Digest) -> str:
    lines = [d.subject, d.period, *([f"Scope: {d.scope}"] if d.scope else []), ""]
    if d.notes:
        lines += [*d.notes, ""]
    if d.changes:
        lines += ["WHAT CHANGED", *(f"  {sentence}" for sentence in d.changes), ""]
    lines.append("HEADLINE (this week; change vs last week)")
    for k in d.kpis:
        detail = f" ({k.detail}{', few cases' if k.few else ''})" if k.detail else ""
        change = ", ".join(part for part in (k.change, k.verdict) if part)
        lines.append(f"  {k.label}: {k.value}{detail}" + (f" | {change}" if change else ""))
    if d.teams:
        lines += ["", "TEAMS"]
    for t in d.teams:
        lines.append(f"  {t.name}" + (f" (lead: {t.lead})" if t.lead else ""))
        lines.append(
            f"    {t.handled:,} handled, AHT mean {t.aht}, SLA met {t.sla.text()}, "
            f"CSAT {t.csat.text()}"
        )
        if t.targets:
            lines.append(f"    Targets: {t.targets}")
    lines += [
        "",
        "TOP AGENTS BY VOLUME" + (f" ({len(d.agents)} of {d.ranked} ranked)" * bool(d.agents)),
    ]
    for a in d.agents:
        lines.append(f"  {a.name}" + (f"  FLAG: {a.flags}" if a.flags else ""))
        lines.append(
            f"    {a.handled:,} handled, AHT mean {a.aht}, resolved {a.resolved}, "
            f"SLA met {a.sla.text()}, CSAT {a.csat.text()}"
        )
        if a.targets:
            lines.append(f"    Targets: {a.targets}")
    lines.append(f"  {_ranking(d)}")
    for image in d.images:
        lines += ["", image.title.upper(), f"  {image.alt}"]
    few = f'"few cases": fewer than {FEW_CASES}, {_SMALL_SAMPLE}'
    lines += ["", *_footnotes(d, few)]
    return "\n".join(lines) + "\n"
