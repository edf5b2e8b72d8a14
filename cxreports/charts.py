"""Metric frames -> altair charts; no I/O.

Every chart is laid out for a phone first: at most :data:`WIDTH` pixels wide with
:data:`FONT_SIZE` text, so that scaled to the ~366 px a 390 px screen leaves, its smallest text
is still 11 px. Durations read as m:ss (h:mm:ss past an hour) on axes, labels and tooltips, rates
start from zero, and colour never carries meaning alone: a word, a number or a rule says it too.
Each chart has a title and a description (what it shows and its main figure), which the static
renderer writes into the SVG as ``<title>`` and ``<desc>`` for screen readers.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Sequence
from itertools import pairwise
from typing import Any, Literal

import altair as alt
import polars as pl
from altair.utils import schemapi
from altair.vegalite.v6.display import svg_renderer

from cxreports import chartfont, palette
from cxreports.exceptions import ParameterError
from cxreports.metrics import csat
from cxreports.metrics.core import wilson
from cxreports.period import Week
from cxreports.schema import agent_labels, tamed
from cxreports.units import duration

RenderMode = Literal["static", "interactive"]

#: Font of all chart text. vl-convert lays out static charts with the first of these fonts it
#: finds and WeasyPrint draws the SVG with its first one too, so both must find the same font
#: (DejaVu Sans, installed by dev.sh) or axis labels collide in the PDF. Browsers without it
#: fall back to narrower fonts, which still fit the space measured.
FONT = '"DejaVu Sans", "Helvetica Neue", Arial, sans-serif'

#: Widest a chart gets, labels and legend included (CSS pixels), and the size of its text:
#: a 390 px phone leaves ~366 px, so the smallest text shows at 13 * 366 / 420 = 11.3 px.
WIDTH = 420
FONT_SIZE = 13
#: The width of a character of a count's label ("2,500 of 10,300") at FONT_SIZE, in px.
LABEL_CHAR_PX = 6.8
TITLE_SIZE = 15

#: Colours, all from :mod:`cxreports.palette`.
PRIMARY = palette.PRIMARY
MUTED = palette.NEUTRAL
GOOD = palette.GOOD
BAD = palette.BAD
RATING_COLORS = palette.RATINGS

#: Marker of a trend format that is a duration in seconds, shown as m:ss.
DURATION = "m:ss"


@alt.theme.register("cxreports", enable=False)
def theme() -> alt.theme.ThemeConfig:
    """The altair theme of every cxreports chart: palette colours, text sized for a phone."""
    axis = {
        "labelFontSize": FONT_SIZE,
        "titleFontSize": FONT_SIZE,
        "labelColor": palette.TEXT,
        "titleColor": palette.TEXT,
        "titleFontWeight": "normal",
        "domainColor": palette.MUTED,
        "tickColor": palette.MUTED,
        "gridColor": palette.RULE,
    }
    return alt.theme.ThemeConfig(
        config={
            "font": FONT,
            "background": palette.BACKGROUND,
            "view": {"stroke": None},
            "axis": axis,
            "legend": {
                "labelFontSize": FONT_SIZE,
                "titleFontSize": FONT_SIZE,
                "labelColor": palette.TEXT,
                "titleColor": palette.TEXT,
                "titleFontWeight": "normal",
            },
            "title": {
                "fontSize": TITLE_SIZE,
                "color": palette.TEXT,
                "anchor": "start",
                "subtitleFontSize": FONT_SIZE,
                "subtitleColor": palette.MUTED,
            },
            "text": {"fontSize": FONT_SIZE, "color": palette.TEXT},
            "range": {"category": palette.CATEGORICAL},
        }
    )


def accessible_svg(svg: str, spec: dict[str, Any]) -> str:
    """``svg`` with ``role="img"``, a ``<title>`` and a ``<desc>`` from the chart ``spec``.

    The title is the spec's ``usermeta.title`` or its title text; the description its
    ``description``. Screen readers name the image by the title and read the description.

    Examples
    --------
    >>> accessible_svg('<svg class="marks"><g/></svg>', {"title": "A", "description": "B & C"})
    '<svg role="img" class="marks"><title>A</title><desc>B &amp; C</desc><g/></svg>'
    """
    title = spec.get("usermeta", {}).get("title") or spec.get("title") or "Chart"
    if isinstance(title, dict):
        title = title.get("text", "Chart")
    if isinstance(title, list):
        title = " ".join(title)
    description = spec.get("description") or title
    head = re.match(r"\s*<svg\b[^>]*>", svg)
    if head is None:
        return svg
    opening = head.group(0).replace("<svg", '<svg role="img"', 1)
    inserted = (
        f"<title>{html.escape(str(title), quote=False)}</title>"
        f"<desc>{html.escape(str(description), quote=False)}</desc>"
    )
    return opening + inserted + svg[head.end() :]


def _svg(spec: dict[str, Any], **metadata: Any) -> dict[str, str]:
    # drawn with a small copy of the font where the chart's text allows: the same SVG, sooner
    swapped = chartfont.swapped(spec)
    bundle = dict(svg_renderer(spec if swapped is None else swapped, **metadata))
    svg = bundle["image/svg+xml"]
    bundle["image/svg+xml"] = accessible_svg(
        svg if swapped is None else chartfont.restored(svg), spec
    )
    return bundle


alt.renderers.register("cxreports-svg", _svg)


def start_renderer() -> None:
    """Draw a one-bar chart with vl-convert and throw it away: its first drawing in a process
    starts the JavaScript engine (about half a second), which the report's first chart then
    does not wait for. Then ready the small copy of the chart font (:mod:`cxreports.chartfont`).
    Touches nothing of altair's settings (safe in a background thread)."""
    _svg(
        {
            "$schema": alt.SCHEMA_URL,
            "data": {"values": [{"x": 1}]},
            "mark": "bar",
            "encoding": {"x": {"field": "x", "type": "quantitative"}},
        }
    )
    chartfont.prepare()


def use_renderer(render_mode: RenderMode) -> None:
    """Make altair charts display as static SVG or as interactive Vega-Lite.

    Static SVG (drawn by vl-convert, no JavaScript, with a title and description for screen
    readers: :func:`accessible_svg`) is what the HTML and PDF reports need.
    Interactive charts, for reading a notebook in Jupyter, are altair's ``JupyterChart``
    widget in offline mode: its JavaScript, Vega included, comes from the installed
    vl-convert and anywidget packages, so tooltips work with no network. (altair's default
    renderer loads Vega from a CDN, and JupyterLab's own Vega renderer predates Vega-Lite 6.)
    Either way the cxreports :func:`theme` is enabled and the row limit is lifted, since
    report frames are aggregates that were sized on purpose. Static charts are also built
    without altair checking every part against the schema as it is made (its debug mode: a
    quarter of building a report's charts); the finished spec is what the tests check.
    Interactive mode turns the checks back on, for the analyst's own charts. A great_tables
    table's text form (kept in the notebook beside its HTML) becomes one line in either mode.

    Parameters
    ----------
    render_mode
        ``"static"`` for SVG output, ``"interactive"`` for the offline Jupyter widget.

    Examples
    --------
    >>> use_renderer("static")
    >>> alt.renderers.active
    'cxreports-svg'
    >>> use_renderer("interactive")
    >>> alt.renderers.active, alt.renderers.options
    ('jupyter', {'offline': True})
    """
    if render_mode == "static":
        alt.renderers.enable("cxreports-svg")
    elif render_mode == "interactive":
        alt.renderers.enable("jupyter", offline=True)
    else:
        raise ParameterError(f"render_mode must be 'static' or 'interactive', got {render_mode!r}")
    _display_unchecked(render_mode == "static")
    if render_mode == "static":
        schemapi.disable_debug_mode()
    else:
        schemapi.enable_debug_mode()
    alt.theme.enable("cxreports")
    alt.data_transformers.disable_max_rows()


def _display_unchecked(on: bool) -> None:
    """In IPython, display static charts without altair checking each spec against the
    Vega-Lite schema first: half of turning a chart into its spec (0.13 s a report), for charts
    whose specs the test suite checks. Interactive charts, drawn while an analyst works, keep
    the check and its messages."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    bundles = shell.display_formatter.mimebundle_formatter
    if on:
        bundles.for_type(alt.TopLevelMixin, _unchecked_bundle)
    else:
        bundles.pop(alt.TopLevelMixin, None)
    # a table's text form beside its HTML: great_tables' own is the repr of all its data, which
    # the notebook keeps (1 GB for an agent table of 10,000 agents); named, not imported
    shell.display_formatter.formatters["text/plain"].for_type_by_name(
        "great_tables.gt", "GT", _table_text
    )


def _table_text(table: Any, printer: Any, cycle: bool) -> None:
    printer.text("<a table, shown as HTML>")


def _unchecked_bundle(chart: Any, include: Any = None, exclude: Any = None) -> dict[str, str]:
    return _svg(chart.to_dict(validate=False, context={"pre_transform": False}))


def _described(chart: Any, title: str, description: str) -> Any:
    """``chart`` with the title and description that the SVG carries for screen readers."""
    # set on a copy rather than by ``properties``, which checks each value against the schema:
    # for a layered or concatenated chart a lookup of its whole schema, 40 ms a chart
    chart = chart.copy(deep=False)
    chart.description = description
    chart.usermeta = {"title": title}
    return chart


def _message(message: str, height: int = 60) -> alt.Chart:
    """A panel that says there is nothing to draw, instead of an empty frame."""
    return (
        alt.Chart(alt.Data(values=[{"text": message}]))
        .mark_text(fontSize=FONT_SIZE, color=palette.MUTED)
        .encode(text=alt.Text("text:N"))
        .properties(width=WIDTH - 20, height=height)
    )


def _empty(message: str, height: int = 60) -> alt.Chart:
    """A chart that says there is nothing to draw, described as such."""
    return _described(_message(message, height), message, message)


#: Characters XML 1.0 cannot hold: C0 controls other than tab, newline and carriage return, and
#: U+FFFE/U+FFFF. vl-convert writes chart text into SVG and aborts the whole process (a report's
#: kernel dies) on one of them; a JSON page carries them as escapes, and polars reads a lone
#: surrogate escape such as ``"\ud83d"`` as NUL. Every other character renders as it is.
_NON_XML = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"


def _drawable(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its text :func:`~cxreports.schema.tamed` (a pile of marks reaches into
    the next bar; control characters go) and the characters no chart can draw then replaced by
    U+FFFD, the replacement mark."""
    return frame.with_columns(tamed(pl.col(pl.String)).str.replace_all(_NON_XML, "\ufffd"))


def _values(frame: pl.DataFrame) -> alt.Data:
    # passing plain records keeps charts independent of pandas and of the frame's dtypes; a
    # tuple of them, which altair shares between a chart's copies instead of copying every
    # record each time a layer, a concatenation or a property makes one (the spec is the same)
    return alt.Data(values=tuple(_drawable(frame).to_dicts()))


def _as_duration(column: str) -> pl.Expr:
    return pl.col(column).map_elements(duration, return_dtype=pl.String, skip_nulls=False)


#: A Vega expression that writes an axis value in seconds as m:ss, or h:mm:ss past an hour.
DURATION_LABEL = (
    "(datum.value >= 3600 ? floor(datum.value / 3600) + ':' + "
    "pad(floor(datum.value % 3600 / 60), 2, '0', 'left') : floor(datum.value / 60)) + ':' + "
    "pad(round(datum.value % 60), 2, '0', 'left')"
)
#: Tick steps of a duration axis (seconds): whole seconds, minutes and hours.
_DURATION_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)


def _axis(**options: Any) -> alt.Axis:
    """An axis whose labels and title are not cut to a width unless ``options`` say so
    (``labelLimit``): each report chart lays its labels out to fit, and a label that Vega may
    cut is measured twice more, in a chart's drawing mostly spent measuring text."""
    return alt.Axis(**{"labelLimit": 0, "titleLimit": 0, **options})


def _count_axis(largest: float | None, most: int = 4, **options: Any) -> alt.Axis:
    """An axis of counts up to ``largest``, at most ``most`` ticks, each a whole number: left
    to Vega, a largest count of 1 was ticked 0, 0.5, 1 and read "0, 1, 1" (its
    ``tickMinStep`` is not kept by the renderer here).

    Examples
    --------
    >>> _whole_ticks(1), _whole_ticks(7), _whole_ticks(230)
    ([0, 1], [0, 2, 4, 6], [0, 100, 200])
    """
    return _axis(format=",d", values=_whole_ticks(largest, most), **options)


def _whole_ticks(largest: float | None, most: int = 4) -> list[int]:
    top = max(int(largest or 0), 1)
    steps = (m * 10**k for k in range(16) for m in (1, 2, 5))
    step = next(s for s in steps if top // s <= most - 1)
    return list(range(0, top + 1, step))


#: The d3 formats of whole numbers: their axes tick whole numbers only.
_WHOLE_FORMATS = (",.0f", ",d", "d")


def _legend(**options: Any) -> alt.Legend:
    """A legend whose labels and title are not cut to a width unless ``options`` say so (as
    :func:`_axis`)."""
    return alt.Legend(**{"labelLimit": 0, "titleLimit": 0, **options})


def _duration_axis(largest_s: float | None, **options: Any) -> tuple[alt.Axis, alt.Scale]:
    """An axis from zero with ticks at whole minutes (or seconds, hours), labelled m:ss."""
    top = max(float(largest_s or 0), 1.0)
    step = next((s for s in _DURATION_STEPS if top / s <= 4), _DURATION_STEPS[-1])
    ticks = [step * i for i in range(int(top // step) + 2)]
    axis = _axis(values=ticks, labelExpr=DURATION_LABEL, **options)
    return axis, alt.Scale(domain=[0, ticks[-1]], nice=False)


#: Bucket edges (seconds) for duration histograms: readable steps from seconds to hours, so
#: a chat answered in 20 s and an email answered in 3 h share one honest chart.
FRT_EDGES = (15, 30, 60, 120, 300, 900, 3600, 14400)
AHT_EDGES = (120, 300, 600, 900, 1200, 1800, 2700, 3600)


def bucket_names(edges_s: tuple[float, ...]) -> list[str]:
    """Names of the buckets that ``edges_s`` cut, in m:ss.

    Examples
    --------
    >>> bucket_names((15, 60, 3600))
    ['≤ 0:15', '0:15–1:00', '1:00–1:00:00', '> 1:00:00']
    """
    names = [f"≤ {duration(edges_s[0])}"]
    names += [f"{duration(a)}–{duration(b)}" for a, b in pairwise(edges_s)]
    names.append(f"> {duration(edges_s[-1])}")
    return names


def _bucket(column: str, edges_s: tuple[float, ...]) -> pl.Expr:
    """The duration bucket (:func:`bucket_names`) of each value of ``column``, as ``bucket``."""
    names = bucket_names(edges_s)
    value = pl.col(column)
    bucket = pl.when(value <= edges_s[0]).then(pl.lit(names[0]))
    for edge, name in zip(edges_s[1:], names[1:-1], strict=True):
        bucket = bucket.when(value <= edge).then(pl.lit(name))
    return bucket.otherwise(pl.lit(names[-1])).alias("bucket")


def distribution(
    rows: pl.DataFrame,
    column: str,
    title: str,
    *,
    edges_s: tuple[float, ...] = FRT_EDGES,
    threshold_s: float | None = None,
) -> alt.LayerChart | alt.Chart:
    """Interactions per duration bucket of ``column`` (``WeeklyMetrics.rows``), as bars.

    The subtitle gives the median and the mean, each named. With ``threshold_s`` (one of the
    edges) a rule marks the target: buckets above it are within, below it over; the bars are
    coloured and the legend says which is which.
    """
    data = rows.select(pl.col(column).drop_nulls())
    if data.height == 0:
        return _empty(f"No {_in_sentence(title)} values this week")
    names = bucket_names(edges_s)
    counts = data.group_by(_bucket(column, edges_s)).agg(pl.len().alias("interactions"))
    frame = (
        pl.DataFrame({"bucket": names, "upper": [*map(float, edges_s), float("inf")]})
        .join(counts, on="bucket", how="left")
        .with_columns(pl.col("interactions").fill_null(0))
        .with_columns(share=pl.col("interactions") / pl.col("interactions").sum())
    )
    median, mean = data[column].median(), data[column].mean()
    lines = [f"median {duration(median)} · mean {duration(mean)} · {data.height:,} interactions"]
    top = frame.sort("interactions", descending=True).row(0, named=True)
    described = (
        f"{title}: interactions per duration bucket. Median {duration(median)}, mean "
        f"{duration(mean)}; most often {top['bucket']} ({top['share']:.0%})."
    )
    colour: alt.Color | alt.ColorValue = alt.value(PRIMARY)
    layers: list[alt.Chart] = []
    if threshold_s is not None:
        target = duration(threshold_s)
        within, over = f"within {target} target", f"over {target} target"
        frame = frame.with_columns(
            target=pl.when(pl.col("upper") <= threshold_s)
            .then(pl.lit(within))
            .otherwise(pl.lit(over))
        )
        within_share = frame.filter(pl.col("upper") <= threshold_s)["share"].sum()
        described += f" {within_share:.0%} {within}."
        colour = alt.Color(
            "target:N",
            scale=alt.Scale(domain=[within, over], range=[GOOD, BAD]),
            legend=_legend(title=None, orient="bottom", direction="horizontal"),
        )
        last_within = frame.filter(pl.col("upper") <= threshold_s)["bucket"].to_list()
        if last_within:
            rule = pl.DataFrame({"bucket": [last_within[-1]]})
            layers = [
                alt.Chart(_values(rule))
                .mark_rule(color=palette.TEXT, strokeDash=[4, 3], strokeWidth=1.5)
                .encode(alt.Y("bucket:N", sort=names, bandPosition=1))
            ]
            lines.append(f"{within_share:.0%} {within} (above the dashed line)")
    frame = frame.with_columns(_shown=_percent_text(pl.col("share")))
    base = alt.Chart(_values(frame.drop("upper"))).encode(
        alt.Y("bucket:N", sort=names, title=None, axis=_axis()),
        alt.X(
            "interactions:Q",
            title="interactions",
            axis=_count_axis(frame["interactions"].max(), 3, grid=False),
        ),
        tooltip=[
            alt.Tooltip("bucket:N", title=title),
            alt.Tooltip("interactions:Q"),
            alt.Tooltip("share:Q", format=".0%"),
        ],
    )
    text = base.mark_text(align="left", dx=3).encode(text=alt.Text("_shown:N"))
    chart = alt.layer(base.mark_bar().encode(color=colour), text, *layers).properties(
        width=WIDTH - 170, height=22 * len(names), title=alt.Title(title, subtitle=lines)
    )
    return _described(chart, title, described)


#: Most agents a leaderboard draws (a bar of 20 px each): 150 agents' bars ran 3,000 px, off
#: the printed page. The agent table lists every agent.
LEADERBOARD_MAX = 30


def leaderboard(agents: pl.DataFrame, metric: str, title: str, *, fmt: str = ",.0f") -> alt.Chart:
    """Horizontal bars of ``metric`` per agent; agents under the minimum volume are grey, listed
    after the ranked ones and labelled "not ranked" (shown, not ranked); the first
    :data:`LEADERBOARD_MAX` of them, the subtitle saying so when there are more."""
    data = agents.filter(pl.col(metric).is_not_null())
    if data.height == 0:
        return _empty("No agent activity this week")
    is_duration = metric.endswith("_s")
    value_text = (
        _as_duration(metric)
        if is_duration
        else pl.col(metric).map_elements(
            lambda v: format(v, fmt.lstrip(".") if fmt.startswith(".") else fmt),
            return_dtype=pl.String,
        )
    )
    data = data.with_columns(
        status=pl.when(pl.col("ranked"))
        .then(pl.lit("ranked"))
        .otherwise(pl.lit("below minimum volume")),
        label=agent_labels(),
        shown=pl.when(pl.col("ranked"))
        .then(value_text)
        .otherwise(pl.format("{} · not ranked", value_text)),
    ).sort(["ranked", metric], descending=[True, True])
    # the sort order names the labels as drawn
    data = _drawable(data)
    everyone = data.height
    data = data.head(LEADERBOARD_MAX)  # a bar a row: more would run off a printed page
    order = data["label"].to_list()
    if is_duration:
        axis, scale = _duration_axis(data[metric].max(), title=title, grid=False)
    else:
        if fmt in _WHOLE_FORMATS:
            axis = _count_axis(data[metric].max(), title=title, grid=False)
        else:
            axis = _axis(format=fmt, tickCount=4, title=title, grid=False)
        scale = alt.Scale()
    base = alt.Chart(
        _values(data.select(*dict.fromkeys(["label", metric, "status", "handled", "shown"])))
    ).encode(
        alt.Y("label:N", sort=order, title=None, axis=_axis(labelLimit=130)),
        alt.X(f"{metric}:Q", axis=axis, scale=scale),
        tooltip=[
            alt.Tooltip("label:N"),
            alt.Tooltip("shown:N", title=title),
            alt.Tooltip("handled:Q"),
            alt.Tooltip("status:N"),
        ],
    )
    bars = base.mark_bar().encode(
        alt.Color(
            "status:N",
            scale=alt.Scale(domain=["ranked", "below minimum volume"], range=[PRIMARY, MUTED]),
            legend=_legend(title=None, orient="bottom", direction="horizontal"),
        )
    )
    text = base.mark_text(align="left", dx=3).encode(text=alt.Text("shown:N"))
    top = data.row(0, named=True)
    cut = (
        f"the first {data.height} of {everyone:,} agents; the agent table lists them all"
        if everyone > data.height
        else None
    )
    chart = alt.layer(bars, text).properties(
        width=WIDTH - 250,
        height=max(80, 20 * data.height),
        title=alt.Title(title, subtitle=cut) if cut else title,
    )
    described = (
        f"{title} per agent, {data.height} agents, ranked agents first"
        + (f" ({cut})" if cut else "")
        + f". Highest: {top['label']} with {top['shown']}."
    )
    return _described(chart, title, described)


#: Trend panels of each report: column -> (title, d3 number format or :data:`DURATION`).
AGENT_TRENDS = {
    "handled": ("Handled", ",.0f"),
    "aht_s": ("Handle time, mean (m:ss)", DURATION),
    "resolved_rate": ("Resolved", ".0%"),
    "fcr_rate": ("First-contact resolution", ".0%"),
}
SLA_CSAT_TRENDS = {
    "sla_met_rate": ("SLA met", ".0%"),
    "frt_within_target_rate": ("First response within target (proxy)", ".0%"),
    "csat_rate": ("CSAT (4-5 of 5)", ".0%"),
    "csat_response_rate": ("CSAT response rate", ".0%"),
}

#: Rates whose 95% interval a trend computes from two counts, as (successes, trials).
_INTERVAL_FROM = {"csat_response_rate": ("csat_responses", "csat_sent")}


def _interval(frame: pl.DataFrame, column: str) -> tuple[pl.Expr, pl.Expr] | None:
    """The 95% interval of ``column`` in ``frame``, when the frame can give one."""
    if {f"{column}_low", f"{column}_high"} <= set(frame.columns):
        return pl.col(f"{column}_low"), pl.col(f"{column}_high")
    if column in _INTERVAL_FROM and set(_INTERVAL_FROM[column]) <= set(frame.columns):
        successes, trials = _INTERVAL_FROM[column]
        low, high = wilson(pl.col(successes), pl.col(trials))
        return (
            pl.when(pl.col(column).is_null()).then(None).otherwise(low),
            pl.when(pl.col(column).is_null()).then(None).otherwise(high),
        )
    return None


def _format(value: float | None, fmt: str) -> str:
    if value is None:
        return "—"
    if fmt == DURATION:
        return duration(value)
    if fmt.endswith("%"):
        return f"{value:.0%}"
    return f"{value:{fmt.lstrip('.')}}" if fmt.startswith(".") else f"{value:{fmt}}"


def _trend_panel(
    trend_frame: pl.DataFrame, column: str, title: str, fmt: str, part: Sequence[str] = ()
) -> alt.LayerSpec:
    """One metric's panel of :func:`trend`, the weeks ``part`` (:func:`_part_weeks`) hollow.

    Written as its Vega-Lite spec rather than built from altair charts: altair copies every
    layer again each time one is added, laid out or turned into its spec, which made building
    the trend chart a tenth of a report's computing time. The week's values are given once, to
    the whole panel."""
    interval = _interval(trend_frame, column)
    data = trend_frame.select(
        pl.col("iso_week").str.slice(5).alias("week"),
        pl.col(column).alias("value"),
        *(
            [interval[0].alias("low"), interval[1].alias("high")]
            if interval
            else [pl.lit(None, pl.Float64).alias("low"), pl.lit(None, pl.Float64).alias("high")]
        ),
    )
    data = data.with_columns(
        shown=pl.col("value").map_elements(
            lambda v: _format(v, fmt), return_dtype=pl.String, skip_nulls=False
        ),
        range=pl.when(pl.col("low").is_not_null())
        .then(
            pl.format(
                "{}–{}",
                pl.col("low").map_elements(lambda v: _format(v, fmt), return_dtype=pl.String),
                pl.col("high").map_elements(lambda v: _format(v, fmt), return_dtype=pl.String),
            )
        )
        .otherwise(pl.lit("—")),
    )
    # the axis, and its top: the height the last value's label is placed against
    if fmt == DURATION:
        axis, scale = _duration_axis(data["value"].max(), title=None)
        top = scale.domain[1]
    elif fmt.endswith("%"):
        axis = _axis(format=fmt, title=None, values=[0, 0.25, 0.5, 0.75, 1])
        scale, top = alt.Scale(domain=[0, 1]), 1.0
    else:
        if fmt in _WHOLE_FORMATS:
            axis = _count_axis(data["value"].max(), title=None)
        else:
            axis = _axis(format=fmt, title=None, tickCount=4)
        values = (data["value"].max(), data["high"].max())
        scale, top = alt.Scale(zero=True), max((v for v in values if v is not None), default=0)
    axis, scale = axis.to_dict(validate=False), scale.to_dict(validate=False)
    x = {
        "field": "week",
        "type": "ordinal",
        "sort": None,
        "title": None,
        "axis": _axis(labelAngle=0).to_dict(validate=False),
    }
    tooltip = [
        {"field": "week", "type": "ordinal"},
        {"field": "shown", "type": "nominal", "title": title},
        {"field": "range", "type": "nominal", "title": "95% interval"},
    ]

    def y(field: str) -> dict[str, Any]:
        return {"field": field, "type": "quantitative", "axis": axis, "scale": scale}

    def mark(kind: str, encoding: dict[str, Any], **options: Any) -> dict[str, Any]:
        return {"mark": {"type": kind, **options}, "encoding": {"x": x, **encoding}}

    layers = []
    last = data.filter(pl.col("value").is_not_null()).tail(1).row(0, named=True)
    subtitle = f"{last['week']}: {last['shown']}"
    if interval is not None:
        layers.append(
            mark(
                "area",
                {"tooltip": tooltip, "y": y("low"), "y2": {"field": "high"}},
                color=PRIMARY,
                opacity=palette.BAND_OPACITY,
            )
        )
        layers += [
            mark(
                "line",
                {"tooltip": tooltip, "y": y(end)},
                color=PRIMARY,
                strokeWidth=1,
                strokeDash=[3, 3],
            )
            for end in ("low", "high")
        ]
        # a band needs two weeks: with one, there is nothing shaded to point at
        banded = data.filter(pl.col("low").is_not_null()).height > 1
        subtitle += f" (95% interval {last['range']}{'; shaded' if banded else ''})"
    else:
        subtitle += " · no interval for this measure"
    solid = mark(
        "line", {"tooltip": tooltip, "y": y("value")}, color=PRIMARY, point={"color": PRIMARY}
    )
    part = list(part)
    if part:
        # a count of part of a week is no fall: the line runs dashed into its point, drawn
        # hollow, and said (the dashes show only where the solid line over the whole weeks
        # does not cover them)
        layers.append(
            mark("line", {"y": y("value")}, color=PRIMARY, strokeWidth=1.5, strokeDash=[3, 3])
        )
        solid["data"] = _values(data.filter(~pl.col("week").is_in(part)))
    layers.append(solid)
    if part:
        hollow = mark(
            "point", {"tooltip": tooltip, "y": y("value")},
            filled=True, fill="white", stroke=PRIMARY, strokeWidth=1.5, size=36, opacity=1,
        )  # fmt: skip
        hollow["data"] = _values(data.filter(pl.col("week").is_in(part)))
        layers.append(hollow)
    # the last value's label above its point, or below it where the line comes down into
    # the point from above (and the point is clear of the axis): the label stays off the line;
    # with a band, above or below the band, off its dashed edges
    known = data.filter(pl.col("value").is_not_null())["value"]
    low, high = last["low"], last["high"]
    floor = known[-1] if low is None else low
    falls = known.len() > 1 and known[-2] > known[-1] and floor > 0.25 * top
    edge = (low if falls else high) is not None
    anchor = ("low" if falls else "high") if edge else "value"
    label = mark(
        "text",
        {"y": y(anchor), "text": {"field": "shown", "type": "nominal"}},
        dy=(12 if falls else -5) if edge else (14 if falls else -10),
        fontWeight="bold",
    )
    label["data"] = _values(data.filter(pl.col("week") == last["week"]))
    layers.append(label)
    if part:
        subtitle = [subtitle, f"hollow: {_part_said(part)}"]
    return alt.LayerSpec(
        data=_values(data),
        layer=layers,
        width=WIDTH - 90,
        height=120,
        title=alt.Title(title, subtitle=subtitle),
    )


def _part_weeks(frame: pl.DataFrame) -> list[str]:
    """The weeks (``W13``) of a frame by ``iso_week`` only part of which is in the data
    (``part_week``): a count of them is of that part, no fall."""
    if "part_week" not in frame.columns:
        return []
    return frame.filter(pl.col("part_week"))["iso_week"].str.slice(5).to_list()


def _part_said(weeks: list[str]) -> str:
    """What a week's pale or hollow mark means, for ``weeks`` (``W13``)."""
    return f"only part of the week is in the data ({', '.join(weeks)})"


def trend(
    trend_frame: pl.DataFrame, metrics: dict[str, tuple[str, str]], *, columns: int = 1
) -> Panels:
    """Small multiples, one line per metric over the trend weeks, ``columns`` to a row.

    ``metrics`` maps a column to (title, d3 format or :data:`DURATION`), e.g.
    ``{"aht_s": ("Handle time, mean", charts.DURATION)}``. Axes start from zero (rates run
    0-100%), and a rate's 95% interval is drawn as a band, so a change within the interval
    looks like one.
    """
    charts = []
    described = []
    part_weeks = _part_weeks(trend_frame)
    for column, (title, fmt) in metrics.items():
        if trend_frame[column].null_count() == trend_frame.height:
            charts.append(
                _message("no data in these weeks", height=110).properties(
                    width=WIDTH - 90, title=title
                )
            )
            described.append(f"{title}: no data")
            continue
        # (a rate or a duration of a part of a week is measured as well as of a whole)
        part = part_weeks if fmt in _WHOLE_FORMATS else []
        charts.append(_trend_panel(trend_frame, column, title, fmt, part))
        values = [_format(v, fmt) for v in trend_frame[column].to_list()]
        of_part = f" ({', '.join(part)} only part of a week)" if part else ""
        described.append(f"{title}: {' → '.join(values)}{of_part}")
    rows = [
        alt.hconcat(*charts[i : i + columns]) if columns > 1 else charts[i]
        for i in range(0, len(charts), columns)
    ]
    weeks = trend_frame["iso_week"].to_list()
    title = f"Weekly trends {weeks[0]} to {weeks[-1]}" if weeks else "Weekly trends"
    chart = _described(
        Panels(vconcat=rows, spacing=24),
        title,
        f"{title}, oldest first. " + "; ".join(described) + ".",
    )
    if columns == 1:
        # what each panel says for itself when a notebook shows it alone
        titles = [panel_title for panel_title, _ in metrics.values()]
        span = f"{weeks[0]} to {weeks[-1]}, oldest first" if weeks else "no weeks"
        chart.usermeta = {
            "title": title,
            "panels": [
                [t, f"{t}, {span}: {d.removeprefix(f'{t}: ')}."]
                for t, d in zip(titles, described, strict=True)
            ],
        }
    return chart


class Panels(alt.VConcatChart):
    """Small multiples one under the other (:func:`trend`): one chart to its spec, the email's
    picture and the tests, and panel by panel to a notebook, each panel its own output with
    its own title and description. A desktop report sets them two to a row
    (``cxreport.css``); a phone and paper keep one under the other."""

    def _ipython_display_(self) -> None:
        from IPython.display import display

        meta = self.usermeta if isinstance(self.usermeta, dict) else {}
        panels = meta.get("panels") or []
        # set beyond what trend() sets (a title, a configuration): shown as one chart, as set
        styled = {k for k, v in self._kwds.items() if v is not alt.Undefined} - _PANELS_OWN
        if styled or not panels or len(panels) != len(self.vconcat):
            display(alt.VConcatChart(**self._kwds))
            return
        for panel, (title, text) in zip(self.vconcat, panels, strict=True):
            display(_described(alt.vconcat(panel), title, text))


#: What :func:`trend` sets on its :class:`Panels`.
_PANELS_OWN = frozenset({"vconcat", "spacing", "description", "usermeta"})


def _count_steps(largest: int, bins: int = 5) -> list[int]:
    """Whole-number thresholds that cut 1..``largest`` into at most ``bins`` even steps.

    Examples
    --------
    >>> _count_steps(16), _count_steps(3), _count_steps(230)
    ([1, 5, 10, 15], [1, 2, 3], [1, 100, 200])
    """
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if largest / step <= bins - 1:
            break
    return [1, *range(step, largest + 1, step)] if step > 1 else list(range(1, largest + 1))


def heatmap(cells: pl.DataFrame, week: Week | None = None) -> alt.Chart | alt.LayerChart:
    """Interactions by local weekday and hour (``WeeklyMetrics.heatmap``), each count printed.

    Weekdays are the seven columns and hours the rows, so the grid fits a phone. The shading
    is in whole-number steps; the printed count says the same, for readers who cannot tell
    the shades apart. With the report ``week``, a change of the clock in it is said above the
    grid: the hour it goes back over holds two hours of contacts, the one it skips none.
    """
    total = int(cells["handled"].sum())
    if total == 0:
        return _empty("No interactions this week")
    thresholds = _count_steps(int(cells["handled"].max()))
    colours = palette.SEQUENTIAL[: len(thresholds) + 1]
    if len(colours) < len(thresholds) + 1:
        thresholds = thresholds[: len(colours) - 1]
    step = pl.lit(0)
    for i, threshold in enumerate(thresholds, start=1):
        step = pl.when(pl.col("handled") >= threshold).then(pl.lit(i)).otherwise(step)
    ink = [palette.text_on(c) for c in colours]
    data = cells.with_columns(
        ink=step.map_elements(lambda i: ink[i], return_dtype=pl.String),
        shown=pl.when(pl.col("handled") > 0)
        .then(pl.col("handled").cast(pl.String))
        .otherwise(pl.lit("")),
    )
    x = alt.X(
        "weekday_name:N",
        sort=list(_WEEKDAYS),
        title=None,
        axis=_axis(orient="top", labelAngle=0, domain=False, ticks=False),
    )
    y = alt.Y(
        "hour:O",
        title="hour (report time zone)",
        axis=_axis(labelExpr="pad(datum.value, 2, '0', 'left') + ':00'", ticks=False),
    )
    base = alt.Chart(_values(data)).encode(
        x,
        y,
        tooltip=[
            alt.Tooltip("weekday_name:N"),
            alt.Tooltip("hour:O"),
            alt.Tooltip("handled:Q", title="interactions"),
        ],
    )
    rects = base.mark_rect(stroke=palette.BACKGROUND, strokeWidth=1).encode(
        alt.Color(
            "handled:Q",
            scale=alt.Scale(type="threshold", domain=thresholds, range=colours),
            legend=_legend(
                title="interactions",
                orient="bottom",
                direction="horizontal",
                format="d",
                labelOverlap=True,
            ),
        )
    )
    text = base.mark_text(fontSize=FONT_SIZE - 1).encode(
        alt.Color("ink:N", scale=None, legend=None), text=alt.Text("shown:N")
    )
    busiest = cells.sort("handled", descending=True).row(0, named=True)
    chart = (
        alt.layer(rects, text)
        .resolve_scale(color="independent")
        .properties(width=7 * 44, height=24 * 17)
    )
    changes = week.clock_changes() if week is not None else []
    if changes:
        lines = [line for change in changes for line in textwrap.wrap(change, 46)]
        chart = chart.properties(
            title=alt.Title(
                lines,
                fontSize=FONT_SIZE,
                fontWeight="normal",
                color=palette.MUTED,
                anchor="start",
                offset=10,
            )
        )
    title = "Interactions by weekday and hour"
    described = (
        f"{title} (report time zone), {total:,} in all. Busiest: {busiest['weekday_name']} "
        f"{busiest['hour']:02d}:00 with {busiest['handled']}."
    )
    return _described(chart, title, " ".join([described, *changes]))


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def mix(frame: pl.DataFrame, column: str, title: str) -> alt.LayerChart | alt.Chart:
    """Share of each value (``WeeklyMetrics.dispositions`` / ``categories``) as bars, on an
    axis of 0-100%: two such charts side by side (a desktop report sets dispositions beside
    wrap-up categories) compare bar for bar, and a share is never drawn as most of something."""
    if frame.height == 0:
        return _empty(f"No {_in_sentence(title)} this week")
    data = frame.select(column, "count", "share", _shown=_percent_text(pl.col("share")))
    base = alt.Chart(_values(data)).encode(
        alt.Y(f"{column}:N", sort="-x", title=None, axis=_axis(labelLimit=140)),
        alt.X(
            "share:Q",
            axis=_axis(format="%", values=[0, 0.5, 1], grid=False),
            title="share of handled",
            scale=alt.Scale(domain=[0, 1]),
        ),
        tooltip=[
            alt.Tooltip(f"{column}:N"),
            alt.Tooltip("count:Q"),
            alt.Tooltip("share:Q", format=".1%"),
        ],
    )
    bars = base.mark_bar(color=PRIMARY)
    text = base.mark_text(align="left", dx=3).encode(text=alt.Text("_shown:N"))
    top = _drawable(data.sort("count", descending=True)).row(0, named=True)
    chart = (bars + text).properties(
        width=WIDTH - 210, height=max(60, 22 * data.height), title=title
    )
    described = (
        f"{title}: share of handled interactions, {data.height} values. Most common: "
        f"{top[column]} ({top['share']:.0%}, {top['count']:,})."
    )
    return _described(chart, title, described)


def rate_by(
    frame: pl.DataFrame,
    key: str,
    rate: str,
    title: str,
    *,
    count: str | None = None,
    total: str | None = None,
    count_title: str | None = None,
    subject: str | None = None,
    missing: str | None = None,
) -> alt.LayerChart | alt.Chart:
    """A rate per group with its 95% Wilson interval as an error bar, in the frame's order.

    ``count`` labels each bar (``"12 breaches"``); with ``total`` the label is ``"12 of 140"``
    and the subtitle says what they count (``count_title``, e.g. ``"breaches of SLA
    verdicts"``), so a rate on few cases reads as one. Groups whose rate is null are left out,
    or with ``missing`` listed where the frame has them, with that text instead of a bar.
    ``subject`` names the groups in the title and description (default ``key``).
    """
    if frame.filter(pl.col(rate).is_not_null()).height == 0:
        return _empty(f"No {_in_sentence(title)} data this week")
    data = frame if missing else frame.filter(pl.col(rate).is_not_null())
    group = pl.col(key).dt.strftime("%a %d %b") if data.schema[key] == pl.Date else pl.col(key)
    data = data.with_columns(group.cast(pl.String).fill_null("(none)").alias("group"))
    data = data.with_columns(
        shown=(pl.col(rate) * 100).round(0).cast(pl.Int64).cast(pl.String) + "%",
        interval=pl.format(
            "{}–{}%",
            *((pl.col(f"{rate}_{end}") * 100).round(0).cast(pl.Int64) for end in ("low", "high")),
        ),
    )
    cols = ["group", rate, f"{rate}_low", f"{rate}_high", "shown", "interval"]
    subtitle = None
    if count:
        noun = count.replace("sla_", "")
        if total:
            data = data.with_columns(
                _label=pl.format("{} of {}", _grouped(pl.col(count)), _grouped(pl.col(total)))
            )
            count_title = count_title or f"{noun} of {total.replace('_', ' ')}"
            subtitle = f"beside each bar: {count_title}"
        else:
            data = data.with_columns(
                _label=pl.format(
                    "{} {}",
                    _grouped(pl.col(count)),
                    pl.when(pl.col(count) == 1)
                    .then(pl.lit(noun.removesuffix("es")))
                    .otherwise(pl.lit(noun)),
                )
            )
        cols.append("_label")
    if missing:
        data = data.with_columns(
            _label=pl.when(pl.col(rate).is_null())
            .then(pl.lit(missing))
            .otherwise(pl.col("_label") if count else pl.lit(""))
        )
        cols = list(dict.fromkeys([*cols, "_label"]))
    data = _drawable(data)
    heading = f"{title} by {subject or key}"
    if data.height == 1 and subject in ("queue", "channel"):
        # a report of one queue (or a week of one channel): a single bar would only repeat
        # the headline, so the panel says it in words
        only = data.row(0, named=True)
        lines = [
            f"One {subject} in this report: {only['group']}",
            f"{title} {only['shown']} (95% interval {only['interval']})",
        ]
        if count:
            lines.append(f"{count_title}: {only['_label']}" if total else only["_label"])
        return _described(_words(lines), heading, ". ".join(lines) + ".")
    order = data["group"].to_list()
    # the labels beside the bars get the room their longest one takes ("2,500 of 10,300"), so
    # that the chart keeps its width (on a phone, a wider chart is shrunk with its text)
    longest = max(len(v) for v in data["_label"].fill_null("")) if count else 0
    plot_width = WIDTH - 160 - (round(30 + LABEL_CHAR_PX * max(longest, 9)) if count else 0)
    y = alt.Y("group:N", title=None, sort=order, axis=_axis(labelLimit=165))
    base = alt.Chart(_values(data.select(cols))).encode(y)
    scale = alt.Scale(domain=[0, 1])
    bars = base.mark_bar(color=PRIMARY, opacity=0.85).encode(
        alt.X(
            f"{rate}:Q",
            axis=_axis(format="%", values=[0, 0.5, 1]),
            scale=scale,
            title=title,
        ),
        tooltip=[
            alt.Tooltip("group:N"),
            alt.Tooltip("shown:N", title=title),
            alt.Tooltip("interval:N", title="95% interval"),
            *([alt.Tooltip("_label:N", title=count_title or "count")] if count else []),
        ],
    )
    err = base.mark_errorbar(color=palette.TEXT, ticks=True).encode(
        alt.X(f"{rate}_low:Q", title=title, scale=scale), alt.X2(f"{rate}_high:Q")
    )
    layers: list[Any] = [bars, err]
    if count or missing:
        layers.append(
            base.mark_text(align="left", x=plot_width + 8).encode(text=alt.Text("_label:N"))
        )
    lowest = data.filter(pl.col(rate).is_not_null()).sort(rate).row(0, named=True)
    chart = alt.layer(*layers).properties(
        width=plot_width,
        height=max(60, 22 * data.height),
        title=alt.Title(heading, subtitle=subtitle) if subtitle else heading,
    )
    described = (
        f"{heading}, with 95% intervals, {data.height} groups. Lowest: "
        f"{lowest['group']} at {lowest['shown']} ({lowest['interval']})"
        + (f", {count_title or 'count'}: {lowest['_label']}." if count else ".")
    )
    return _described(chart, heading, described)


def _percent_text(share: pl.Expr) -> pl.Expr:
    """A share as a whole percent for a bar's label, never 0% for a share above nothing nor
    100% for one short of everything: ``<1%`` and ``>99%`` there.

    Examples
    --------
    >>> s = pl.Series([0.0, 0.003, 0.006, 0.42, 0.996, 1.0])
    >>> pl.select(_percent_text(pl.lit(s))).to_series().to_list()
    ['0%', '<1%', '1%', '42%', '>99%', '100%']
    """
    whole = (share * 100).round(0).cast(pl.Int64)
    return (
        pl.when((share > 0) & (whole == 0))
        .then(pl.lit("<1%"))
        .when((share < 1) & (whole == 100))
        .then(pl.lit(">99%"))
        .otherwise(pl.format("{}%", whole))
    )


def _in_sentence(title: str) -> str:
    """A chart's title inside a sentence: its first letter in lower case, unless it begins
    an abbreviation.

    Examples
    --------
    >>> _in_sentence("Handle time"), _in_sentence("SLA met"), _in_sentence("CSAT (4-5 of 5)")
    ('handle time', 'SLA met', 'CSAT (4-5 of 5)')
    """
    return title if title[1:2].isupper() else title[:1].lower() + title[1:]


def _grouped(count: pl.Expr) -> pl.Expr:
    """A whole number with thousands separators, as text: 10300 -> "10,300"."""
    digits = count.cast(pl.Int64).cast(pl.String)
    return digits.map_elements(lambda d: f"{int(d):,}", return_dtype=pl.String)


def worst_hours(hourly: pl.DataFrame) -> alt.LayerChart | alt.Chart:
    """SLA met per local hour (``WeeklyMetrics.hourly``), worst first, every hour with volume.

    Hours are sorted by the top of their 95% interval of SLA met, lowest first: an hour is
    worse the surer it is to be bad, so one breach out of one verdict (0%, but anywhere from
    0% to 79%) does not head the list above 20 breaches of 40. Ties go to the hour with more
    breaches, then the earlier hour. Every hour with an SLA verdict is drawn, whatever its
    volume: each bar says how many verdicts it stands on and shows its 95% interval. Hours
    with interactions but no verdict have no rate: they come last, marked "no SLA verdict",
    and the description names them.
    """
    data = hourly.filter(pl.col("handled") > 0).with_columns(
        label=pl.format(
            "{}:00–{}:59",
            pl.col("hour").cast(pl.String).str.zfill(2),
            pl.col("hour").cast(pl.String).str.zfill(2),
        ),
    )
    ranked = data.sort(
        ["sla_met_rate_high", "sla_breaches", "hour"],
        descending=[False, True, False],
        nulls_last=True,
    )
    chart = rate_by(
        ranked,
        "label",
        "sla_met_rate",
        "SLA met",
        count="sla_breaches",
        total="sla_eligible",
        count_title="breaches of SLA verdicts",
        subject="hour, worst first",
        missing="no SLA verdict",
    )
    none = data.filter(pl.col("sla_met_rate").is_null())["label"].to_list()
    if none and ranked["sla_met_rate"].is_not_null().any():
        spec = chart.to_dict()
        chart = chart.properties(
            description=spec["description"] + f" No SLA verdict in {', '.join(none)}."
        )
    return chart


def _words(lines: list[str]) -> alt.Chart:
    """``lines`` of text where a chart would draw a single bar."""
    return (
        alt.Chart(alt.Data(values=[{"text": lines}]))
        .mark_text(
            fontSize=FONT_SIZE,
            color=palette.TEXT,
            align="left",
            baseline="top",
            x=0,
            y=4,
            lineHeight=FONT_SIZE + 5,
            limit=WIDTH - 20,  # a queue's long name ends in "…" rather than widen the chart
        )
        .encode(text=alt.Text("text:N"))
        .properties(width=WIDTH - 20, height=(FONT_SIZE + 5) * len(lines) + 4)
    )


#: What a group of :func:`ratings` is, by its column.
_GROUPS = {"queue_name": "queue", "channel": "channel"}


def ratings(dist: pl.DataFrame, key: str | None, title: str) -> alt.Chart:
    """CSAT ratings 1-5 as stacked shares per group (``WeeklyMetrics.csat_by_*``), 1 left;
    by queue or channel with only one of them answered (a report of one queue), in words: its
    bar would be the one of all responses again."""
    if dist["responses"].sum() == 0:
        return _empty("No CSAT scores this week: no customer answered a survey")
    answered = dist.group_by(key).agg(pl.col("responses").sum()).filter(pl.col("responses") > 0)
    if key in _GROUPS and answered.height == 1:
        group = pl.col(key).cast(pl.String).fill_null("(none)").alias("group")
        only = _drawable(answered.select(group, "responses")).row(0, named=True)
        lines = [
            f"The only {_GROUPS[key]} with survey answers:",
            only["group"],
            f"its ratings are those of all responses ({only['responses']:,})",
        ]
        return _described(_words(lines), f"CSAT ratings: {title}", ". ".join(lines) + ".")
    data = dist.with_columns(
        group=pl.col(key).cast(pl.String).fill_null("(none)") if key else pl.lit("All"),
        rating=pl.col("csat_score").cast(pl.String),
    ).select("group", "rating", "responses", "share")
    satisfied = (
        data.group_by("group")
        .agg(
            pl.col("responses").filter(pl.col("rating").is_in(["4", "5"])).sum().alias("ok"),
            pl.col("responses").sum().alias("n"),
        )
        .sort("group")
    )
    parts = [
        f"{r['group']} {r['ok'] / r['n']:.0%} of {r['n']}"
        for r in _drawable(satisfied).iter_rows(named=True)
        if r["n"]
    ]
    chart = (
        alt.Chart(_values(data))
        .mark_bar(stroke=palette.BACKGROUND, strokeWidth=1)
        .encode(
            alt.Y("group:N", title=None, axis=_axis(labelLimit=165)),
            alt.X(
                "share:Q",
                stack="normalize",
                axis=_axis(format="%", values=[0, 0.5, 1]),
                title="share of responses",
            ),
            alt.Color(
                "rating:O",
                scale=alt.Scale(domain=["1", "2", "3", "4", "5"], range=RATING_COLORS),
                legend=_legend(
                    title="rating, 1 (worst, left) to 5 (best, right)",
                    orient="bottom",
                    direction="horizontal",
                    titleLimit=WIDTH,
                ),
            ),
            order=alt.Order("rating:O"),
            tooltip=[
                alt.Tooltip("group:N"),
                alt.Tooltip("rating:O"),
                alt.Tooltip("responses:Q"),
                alt.Tooltip("share:Q", format=".0%"),
            ],
        )
        .properties(width=WIDTH - 185, height=max(40, 24 * data["group"].n_unique()), title=title)
    )
    described = (
        f"{title}: CSAT ratings 1 to 5 as shares of responses. Rated 4 or 5: "
        + "; ".join(parts)
        + "."
    )
    return _described(chart, f"CSAT ratings: {title}", described)


def daily_volume(daily: pl.DataFrame) -> alt.Chart:
    """Handled interactions per local day of the week."""
    day = pl.col("day")
    data = daily.select(
        (day.dt.strftime("%a %d") if daily.schema["day"] == pl.Date else day.cast(pl.String)).alias(
            "day"
        ),
        "handled",
    )
    order = data["day"].to_list()
    base = alt.Chart(_values(data)).encode(
        alt.X("day:O", title=None, sort=order, axis=_axis(labelAngle=0)),
        alt.Y(
            "handled:Q", title="interactions", axis=_count_axis(data["handled"].max(), grid=False)
        ),
        tooltip=[alt.Tooltip("day:O"), alt.Tooltip("handled:Q")],
    )
    chart = (
        base.mark_bar(color=PRIMARY) + base.mark_text(dy=-8).encode(text=alt.Text("handled:Q"))
    ).properties(width=7 * 52, height=150)
    busiest = data.sort("handled", descending=True, nulls_last=True).row(0, named=True)
    described = (
        f"Handled interactions per day, {int(data['handled'].sum() or 0):,} in all; busiest "
        f"{busiest['day']} with {busiest['handled']}."
    )
    return _described(chart, "Handled interactions per day", described)


def _shares(rows: pl.DataFrame, column: str, edges_s: tuple[float, ...]) -> pl.DataFrame:
    """Share of ``rows`` per duration bucket of ``column`` (every bucket, empty ones 0)."""
    names = bucket_names(edges_s)
    counts = (
        rows.select(pl.col(column).drop_nulls())
        .group_by(_bucket(column, edges_s))
        .agg(pl.len().alias("interactions"))
    )
    return (
        pl.DataFrame({"bucket": names})
        .join(counts, on="bucket", how="left")
        .with_columns(pl.col("interactions").fill_null(0))
        .with_columns(share=pl.col("interactions") / pl.col("interactions").sum().clip(1))
    )


def compared_distribution(
    mine: pl.DataFrame,
    theirs: pl.DataFrame,
    column: str,
    title: str,
    *,
    who: tuple[str, str],
    edges_s: tuple[float, ...] = FRT_EDGES,
) -> alt.Chart:
    """Shares per duration bucket of ``column`` for an agent's rows and their team's, as
    paired bars (the agent's first); the subtitle gives both medians."""
    if mine.select(pl.col(column).drop_nulls()).height == 0:
        return _empty(f"No {_in_sentence(title)} values this week")
    names = bucket_names(edges_s)
    frame = pl.concat(
        [
            _shares(rows, column, edges_s).with_columns(who=pl.lit(name))
            for rows, name in ((mine, who[0]), (theirs, who[1]))
        ]
    )
    medians = [duration(rows[column].median()) for rows in (mine, theirs)]
    subtitle = f"median {medians[0]} ({who[0]}) against {medians[1]} ({who[1]})"
    chart = (
        alt.Chart(_values(frame))
        .mark_bar()
        .encode(
            alt.Y("bucket:N", sort=names, title=None, axis=_axis()),
            alt.YOffset("who:N", sort=list(who)),
            alt.X("share:Q", title="share of interactions", axis=_axis(format="%", tickCount=4)),
            alt.Color(
                "who:N",
                sort=list(who),
                scale=alt.Scale(domain=list(who), range=[PRIMARY, MUTED]),
                # the agent's name: cut where Vega cuts a legend label by default
                legend=_legend(labelLimit=160, title=None, orient="bottom", direction="horizontal"),
            ),
            tooltip=[
                alt.Tooltip("who:N"),
                alt.Tooltip("bucket:N", title=title),
                alt.Tooltip("interactions:Q"),
                alt.Tooltip("share:Q", format=".0%"),
            ],
        )
        .properties(
            width=WIDTH - 170, height=16 * len(names), title=alt.Title(title, subtitle=subtitle)
        )
    )
    described = f"{title}: shares of interactions per duration bucket, {subtitle}."
    return _described(chart, title, described)


def breaches_by_hour(rows: pl.DataFrame, title: str = "SLA breaches by hour") -> alt.Chart:
    """An agent's SLA breaches per local hour of the day, beside their SLA verdicts."""
    verdicts = rows.filter(pl.col("sla_status").is_not_null())
    if verdicts.height == 0:
        return _empty("No SLA verdicts this week")
    counts = verdicts.group_by("hour").agg(
        (pl.col("sla_status") != "meet").sum().alias("breaches"),
        pl.len().alias("verdicts"),
    )
    # every hour from the first to the last with a verdict, so that the axis skips none: an
    # hour without verdicts has no bar (0 would read as none breached)
    hours = pl.DataFrame(
        {"hour": range(counts["hour"].min(), counts["hour"].max() + 1)},
        schema={"hour": counts.schema["hour"]},
    )
    data = (
        hours.join(counts, on="hour", how="left")
        .with_columns(pl.col("verdicts").fill_null(0))
        .with_columns(label=pl.format("{}:00", pl.col("hour").cast(pl.String).str.zfill(2)))
    )
    total = int(data["breaches"].sum())
    base = alt.Chart(_values(data)).encode(
        alt.X(
            "label:O",
            title="hour of the day",
            sort=None,
            axis=_axis(labelAngle=-90),
            # the hours without a bar stay on the axis too (a null bar leaves the domain)
            scale=alt.Scale(domain=data["label"].to_list()),
        ),
        alt.Y(
            "breaches:Q", title="breaches", axis=_count_axis(data["breaches"].max(), 3, grid=False)
        ),
        tooltip=[alt.Tooltip("label:O"), alt.Tooltip("breaches:Q"), alt.Tooltip("verdicts:Q")],
    )
    chart = (
        base.mark_bar(color=BAD) + base.mark_text(dy=-6).encode(text=alt.Text("breaches:Q"))
    ).properties(
        width=WIDTH - 90,
        height=90,
        title=alt.Title(title, subtitle=f"{total:,} of {verdicts.height:,} SLA verdicts breached"),
    )
    worst = data.sort("breaches", descending=True, nulls_last=True).row(0, named=True)
    described = (
        f"{title}: {total} breaches of {verdicts.height} verdicts; most at {worst['label']} "
        f"({worst['breaches']})."
    )
    return _described(chart, title, described)


def weekly_volume(volume: pl.DataFrame, title: str = "Handled per week") -> alt.Chart:
    """Handled interactions per ISO week (``iso_week``, ``handled``), the last this week; a
    week only part of which is in the data (``part_week``) drawn pale and said."""
    data = volume.with_columns(week=pl.col("iso_week").str.slice(6))
    part = _part_weeks(data)
    base = alt.Chart(_values(data)).encode(
        alt.X("week:O", title="ISO week", sort=None, axis=_axis(labelAngle=0)),
        alt.Y("handled:Q", title=None, axis=_count_axis(data["handled"].max(), 3, grid=False)),
        tooltip=[alt.Tooltip("iso_week:N"), alt.Tooltip("handled:Q")],
    )
    bars = base.mark_bar(color=PRIMARY)
    heading: str | alt.Title = title
    if part:
        weeks = [w.removeprefix("W") for w in part]
        pale = alt.condition(alt.FieldOneOfPredicate("week", weeks), alt.value(0.35), alt.value(1))
        bars = bars.encode(opacity=pale)
        heading = alt.Title(title, subtitle=f"pale: {_part_said(part)}")
    chart = (bars + base.mark_text(dy=-6).encode(text=alt.Text("handled:Q"))).properties(
        width=WIDTH - 90, height=80, title=heading
    )
    described = f"{title}: " + ", ".join(
        f"{r['iso_week']} {'no data' if r['handled'] is None else r['handled']}"
        for r in data.iter_rows(named=True)
    )
    if part:
        described += f" ({', '.join(part)} only part of a week)"
    return _described(chart, title, described)


def scorecard(card: Any) -> tuple[alt.VConcatChart, alt.VConcatChart]:
    """The charts of an agent's scorecard (:class:`cxreports.metrics.scorecards.Card`), in two
    columns of at most 330 px: handle time and first response against the team's; CSAT
    ratings, SLA breaches by hour and the weekly volume. Side by side on A4, one under the
    other on a phone."""
    who = ("this agent", "their team" if card.team is not None else "all agents")
    ratings_frame = csat.distribution(card.rows).collect()
    narrow = {"width": 200}
    left = [
        compared_distribution(
            card.rows, card.team_rows, "handled_time_s", "Handle time", who=who, edges_s=AHT_EDGES
        ).properties(**narrow),
        compared_distribution(
            card.rows, card.team_rows, "first_response_time_s", "First response", who=who
        ).properties(**narrow),
    ]
    right = [
        ratings(ratings_frame, None, "CSAT ratings").properties(width=240),
        breaches_by_hour(card.rows).properties(width=260),
        weekly_volume(card.volume).properties(width=260),
    ]
    return _column(left, f"{card.name}: handle time and first response"), _column(
        right, f"{card.name}: CSAT, SLA breaches and volume"
    )


def _column(panels: list[Any], title: str) -> alt.VConcatChart:
    """``panels`` one under the other, described together (a panel of a concatenation carries
    no metadata of its own)."""
    descriptions = [str(panel.description) for panel in panels]
    for panel in panels:
        panel.usermeta = alt.Undefined
        panel.description = alt.Undefined
    chart = alt.vconcat(*panels, spacing=18).resolve_scale(color="independent")
    return _described(chart, title, " ".join(descriptions))


def svg(chart: Any) -> str:
    """``chart`` as an SVG string, as the static reports draw it (for a chart set inside HTML),
    without the schema check (:func:`use_renderer`)."""
    return _unchecked_bundle(chart)["image/svg+xml"]
