"""Metric frames -> altair charts; no I/O."""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

import altair as alt
import polars as pl

from cxreports.exceptions import ParameterError
from cxreports.schema import agent_label

RenderMode = Literal["static", "interactive"]

#: Font of all chart text. vl-convert lays out static charts with the first of these fonts it
#: finds and WeasyPrint draws the SVG with its first one too, so both must find the same font
#: (DejaVu Sans, installed by dev.sh) or axis labels collide in the PDF. Browsers without it
#: fall back to narrower fonts, which still fit the space measured.
FONT = '"DejaVu Sans", "Helvetica Neue", Arial, sans-serif'


@alt.theme.register("cxreports", enable=False)
def theme() -> alt.theme.ThemeConfig:
    """The altair theme of every cxreports chart."""
    return alt.theme.ThemeConfig(config={"font": FONT})


def use_renderer(render_mode: RenderMode) -> None:
    """Make altair charts display as static SVG or as interactive Vega-Lite.

    Static SVG (drawn by vl-convert, no JavaScript) is what the HTML and PDF reports need.
    Interactive charts, for reading a notebook in Jupyter, are altair's ``JupyterChart``
    widget in offline mode: its JavaScript, Vega included, comes from the installed
    vl-convert and anywidget packages, so tooltips work with no network. (altair's default
    renderer loads Vega from a CDN, and JupyterLab's own Vega renderer predates Vega-Lite 6.)
    Either way the cxreports :func:`theme` is enabled and the row limit is lifted, since
    report frames are aggregates that were sized on purpose.

    Parameters
    ----------
    render_mode
        ``"static"`` for SVG output, ``"interactive"`` for the offline Jupyter widget.

    Examples
    --------
    >>> use_renderer("static")
    >>> alt.renderers.active
    'svg'
    >>> use_renderer("interactive")
    >>> alt.renderers.active, alt.renderers.options
    ('jupyter', {'offline': True})
    """
    if render_mode == "static":
        alt.renderers.enable("svg")
    elif render_mode == "interactive":
        alt.renderers.enable("jupyter", offline=True)
    else:
        raise ParameterError(f"render_mode must be 'static' or 'interactive', got {render_mode!r}")
    alt.theme.enable("cxreports")
    alt.data_transformers.disable_max_rows()


#: Chart width in pixels: fits an A4 page with margins in the PDF.
WIDTH = 620
#: Colours: the main series, a muted one, good, bad, and the sequential heatmap scheme.
PRIMARY = "#2563eb"
MUTED = "#cbd5e1"
GOOD = "#16a34a"
BAD = "#dc2626"
RATING_COLORS = ["#b91c1c", "#f97316", "#facc15", "#84cc16", "#15803d"]


def _empty(message: str, height: int = 60) -> alt.Chart:
    """A chart that says there is nothing to draw, instead of an empty frame."""
    return (
        alt.Chart(alt.Data(values=[{"text": message}]))
        .mark_text(fontSize=13, color="#64748b")
        .encode(text="text:N")
        .properties(width=WIDTH, height=height)
    )


#: Characters XML 1.0 cannot hold: C0 controls other than tab, newline and carriage return, and
#: U+FFFE/U+FFFF. vl-convert writes chart text into SVG and aborts the whole process (a report's
#: kernel dies) on one of them; a JSON page carries them as escapes, and polars reads a lone
#: surrogate escape such as ``"\ud83d"`` as NUL. Every other character renders as it is.
_NON_XML = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"


def _drawable(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with characters no chart can draw replaced by U+FFFD, the replacement mark."""
    return frame.with_columns(pl.col(pl.String).str.replace_all(_NON_XML, "\ufffd"))


def _values(frame: pl.DataFrame) -> alt.Data:
    # passing plain records keeps charts independent of pandas and of the frame's dtypes
    return alt.Data(values=_drawable(frame).to_dicts())


def _minutes(column: str) -> pl.Expr:
    return (pl.col(column) / 60).alias(column.replace("_s", "_min"))


#: Bucket edges (seconds) for duration histograms: readable steps from seconds to hours, so
#: a chat answered in 20 s and an email answered in 3 h share one honest chart.
FRT_EDGES = (15, 30, 60, 120, 300, 900, 3600, 14400)
AHT_EDGES = (120, 300, 600, 900, 1200, 1800, 2700, 3600)


def _duration_label(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def distribution(
    rows: pl.DataFrame,
    column: str,
    title: str,
    *,
    edges_s: tuple[float, ...] = FRT_EDGES,
    threshold_s: float | None = None,
) -> alt.Chart:
    """Interactions per duration bucket of ``column`` (``WeeklyMetrics.rows``).

    With ``threshold_s`` (one of the edges) the buckets within it are drawn green and the
    others red, so the chart reads as "answered in time or not".
    """
    data = rows.select(pl.col(column).drop_nulls())
    if data.height == 0:
        return _empty(f"No {title.lower()} values this week")
    names = [f"≤ {_duration_label(edges_s[0])}"]
    names += [f"{_duration_label(a)}-{_duration_label(b)}" for a, b in pairwise(edges_s)]
    names.append(f"{_duration_label(edges_s[-1])}+")
    value = pl.col(column)
    bucket = pl.when(value <= edges_s[0]).then(pl.lit(names[0]))
    for edge, name in zip(edges_s[1:], names[1:-1], strict=True):
        bucket = bucket.when(value <= edge).then(pl.lit(name))
    bucket = bucket.otherwise(pl.lit(names[-1]))
    counts = data.group_by(bucket.alias("bucket")).agg(pl.len().alias("interactions"))
    frame = (
        pl.DataFrame({"bucket": names, "upper": [*map(float, edges_s), float("inf")]})
        .join(counts, on="bucket", how="left")
        .with_columns(pl.col("interactions").fill_null(0))
        .with_columns(share=pl.col("interactions") / pl.col("interactions").sum())
    )
    colour: alt.Color | alt.ColorValue = alt.value(PRIMARY)
    if threshold_s is not None:
        frame = frame.with_columns(
            target=pl.when(pl.col("upper") <= threshold_s)
            .then(pl.lit(f"within {_duration_label(threshold_s)}"))
            .otherwise(pl.lit(f"over {_duration_label(threshold_s)}"))
        )
        colour = alt.Color(
            "target:N",
            scale=alt.Scale(range=[GOOD, BAD]),
            sort="descending",
            legend=alt.Legend(title=None, orient="top-right"),
        )
    base = alt.Chart(_values(frame.drop("upper"))).encode(
        alt.X("bucket:N", sort=names, title=None, axis=alt.Axis(labelAngle=0)),
        alt.Y("interactions:Q", title="interactions"),
        tooltip=["bucket:N", "interactions:Q", alt.Tooltip("share:Q", format=".0%")],
    )
    text = base.mark_text(dy=-6, fontSize=10, color="#334155").encode(
        text=alt.Text("share:Q", format=".0%")
    )
    return (base.mark_bar(opacity=0.9).encode(color=colour) + text).properties(
        width=WIDTH, height=170, title=title
    )


def leaderboard(agents: pl.DataFrame, metric: str, title: str, *, fmt: str = ",.0f") -> alt.Chart:
    """Horizontal bars of ``metric`` per agent; agents under the minimum volume are greyed out
    and listed after the ranked ones (shown, not ranked)."""
    data = agents.filter(pl.col(metric).is_not_null())
    if data.height == 0:
        return _empty("No agent activity this week")
    data = data.with_columns(
        status=pl.when(pl.col("ranked"))
        .then(pl.lit("ranked"))
        .otherwise(pl.lit("below minimum volume")),
        label=agent_label(),
    ).sort(["ranked", metric], descending=[True, True])
    # the sort order names the labels as drawn
    data = _drawable(data)
    order = data["label"].to_list()
    return (
        alt.Chart(_values(data.select(*dict.fromkeys(["label", metric, "status", "handled"]))))
        .mark_bar()
        .encode(
            alt.Y("label:N", sort=order, title=None),
            alt.X(f"{metric}:Q", title=title, axis=alt.Axis(format=fmt)),
            alt.Color(
                "status:N",
                scale=alt.Scale(domain=["ranked", "below minimum volume"], range=[PRIMARY, MUTED]),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            tooltip=["label:N", alt.Tooltip(f"{metric}:Q", format=fmt), "handled:Q", "status:N"],
        )
        .properties(width=WIDTH - 140, height=max(80, 16 * data.height), title=title)
    )


#: Trend panels of each report: column -> (title, d3 number format).
AGENT_TRENDS = {
    "handled": ("Handled", ",.0f"),
    "aht_s": ("Avg handle time (s)", ",.0f"),
    "resolved_rate": ("Resolved", ".0%"),
    "fcr_rate": ("First-contact resolution", ".0%"),
}
SLA_CSAT_TRENDS = {
    "sla_met_rate": ("SLA met", ".0%"),
    "frt_within_target_rate": ("First response within target (proxy)", ".0%"),
    "csat_rate": ("CSAT (4-5 of 5)", ".0%"),
    "csat_response_rate": ("CSAT response rate", ".0%"),
}


def trend(trend_frame: pl.DataFrame, metrics: dict[str, tuple[str, str]]) -> alt.VConcatChart:
    """Small multiples, one line per metric over the trend weeks.

    ``metrics`` maps a column to (title, d3 format), e.g. ``{"aht_s": ("AHT (s)", ",.0f")}``.
    """
    charts = []
    for column, (title, fmt) in metrics.items():
        data = trend_frame.select(
            pl.col("iso_week").str.slice(5).alias("week"), pl.col(column).alias("value")
        )
        base = alt.Chart(_values(data)).encode(
            alt.X("week:O", title=None, sort=None, axis=alt.Axis(labelAngle=0)),
            alt.Y("value:Q", title=None, axis=alt.Axis(format=fmt), scale=alt.Scale(zero=False)),
            tooltip=["week:O", alt.Tooltip("value:Q", title=title, format=fmt)],
        )
        if data["value"].null_count() == data.height:
            charts.append(
                _empty("no data in these weeks", height=110).properties(
                    width=WIDTH // 2 - 40, title=title
                )
            )
            continue
        chart = base.mark_line(color=PRIMARY, point=True) + base.mark_text(
            dy=-9, fontSize=9, color="#334155"
        ).encode(text=alt.Text("value:Q", format=fmt))
        charts.append(chart.properties(width=WIDTH // 2 - 40, height=110, title=title))
    rows = [alt.hconcat(*charts[i : i + 2]) for i in range(0, len(charts), 2)]
    return alt.vconcat(*rows)


def heatmap(cells: pl.DataFrame) -> alt.Chart:
    """Interactions by local weekday and hour (``WeeklyMetrics.heatmap``)."""
    if cells["handled"].sum() == 0:
        return _empty("No interactions this week")
    return (
        alt.Chart(_values(cells))
        .mark_rect(stroke="white", strokeWidth=1)
        .encode(
            alt.X("hour:O", title="hour of day (report time zone)", axis=alt.Axis(labelAngle=0)),
            alt.Y("weekday_name:N", sort=list(_WEEKDAYS), title=None),
            alt.Color(
                "handled:Q",
                # a stepped scale: its legend is swatches, which every SVG renderer draws
                scale=alt.Scale(type="quantize", scheme="blues", nice=True),
                legend=alt.Legend(title="interactions", orient="right"),
            ),
            tooltip=["weekday_name:N", "hour:O", "handled:Q"],
        )
        .properties(width=WIDTH - 60, height=170)
    )


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def mix(frame: pl.DataFrame, column: str, title: str) -> alt.Chart:
    """Share of each value (``WeeklyMetrics.dispositions`` / ``categories``) as bars."""
    if frame.height == 0:
        return _empty(f"No {title.lower()} this week")
    data = frame.select(column, "count", "share")
    base = alt.Chart(_values(data)).encode(
        alt.Y(f"{column}:N", sort="-x", title=None),
        alt.X("share:Q", axis=alt.Axis(format="%"), title="share of handled"),
        tooltip=[f"{column}:N", "count:Q", alt.Tooltip("share:Q", format=".1%")],
    )
    bars = base.mark_bar(color=PRIMARY)
    text = base.mark_text(align="left", dx=3, fontSize=10).encode(
        text=alt.Text("share:Q", format=".0%")
    )
    return (bars + text).properties(
        width=WIDTH - 200, height=max(60, 20 * data.height), title=title
    )


def rate_by(
    frame: pl.DataFrame, key: str, rate: str, title: str, *, count: str | None = None
) -> alt.Chart:
    """A rate per group with its 95% Wilson interval as an error bar; ``count`` labels bars."""
    data = frame.filter(pl.col(rate).is_not_null())
    if data.height == 0:
        return _empty(f"No {title.lower()} data this week")
    data = data.with_columns(pl.col(key).cast(pl.String).fill_null("(none)").alias("group"))
    cols = ["group", rate, f"{rate}_low", f"{rate}_high", *([count] if count else [])]
    base = alt.Chart(_values(data.select(cols))).encode(alt.Y("group:N", title=None, sort=None))
    bars = base.mark_bar(color=PRIMARY, opacity=0.85).encode(
        alt.X(f"{rate}:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]), title=title),
        tooltip=[
            "group:N",
            alt.Tooltip(f"{rate}:Q", format=".1%"),
            *([f"{count}:Q"] if count else []),
        ],
    )
    err = base.mark_errorbar(color="#0f172a", ticks=True).encode(
        alt.X(f"{rate}_low:Q", title=title), alt.X2(f"{rate}_high:Q")
    )
    layers = [bars, err]
    if count:
        noun = count.replace("sla_", "")
        labelled = data.with_columns(
            pl.format(
                "{} {}",
                pl.col(count),
                pl.when(pl.col(count) == 1)
                .then(pl.lit(noun.removesuffix("es")))
                .otherwise(pl.lit(noun)),
            ).alias("_label")
        )
        layers.append(
            alt.Chart(_values(labelled.select("group", "_label")))
            .mark_text(align="left", x=WIDTH - 175, fontSize=10, color=BAD)
            .encode(alt.Y("group:N", sort=None), text="_label:N")
        )
    return alt.layer(*layers).properties(
        width=WIDTH - 240, height=max(60, 22 * data.height), title=title
    )


def ratings(dist: pl.DataFrame, key: str | None, title: str) -> alt.Chart:
    """CSAT ratings 1-5 as stacked shares per group (``WeeklyMetrics.csat_by_*``)."""
    if dist["responses"].sum() == 0:
        return _empty("No CSAT scores this week: no customer answered a survey")
    data = dist.with_columns(
        group=pl.col(key).cast(pl.String).fill_null("(none)") if key else pl.lit("All"),
        rating=pl.col("csat_score").cast(pl.String),
    ).select("group", "rating", "responses", "share")
    return (
        alt.Chart(_values(data))
        .mark_bar()
        .encode(
            alt.Y("group:N", title=None),
            alt.X(
                "share:Q", stack="normalize", axis=alt.Axis(format="%"), title="share of responses"
            ),
            alt.Color(
                "rating:O",
                scale=alt.Scale(domain=["1", "2", "3", "4", "5"], range=RATING_COLORS),
                legend=alt.Legend(title="rating", orient="right"),
            ),
            order=alt.Order("rating:O"),
            tooltip=["group:N", "rating:O", "responses:Q", alt.Tooltip("share:Q", format=".0%")],
        )
        .properties(width=WIDTH - 160, height=max(40, 22 * data["group"].n_unique()), title=title)
    )


def daily_volume(daily: pl.DataFrame) -> alt.Chart:
    """Handled interactions per local day of the week."""
    data = daily.select(pl.col("day").cast(pl.String), "handled")
    return (
        alt.Chart(_values(data))
        .mark_bar(color=PRIMARY)
        .encode(
            alt.X("day:O", title=None, axis=alt.Axis(labelAngle=0)),
            alt.Y("handled:Q", title="interactions"),
            tooltip=["day:O", "handled:Q"],
        )
        .properties(width=WIDTH, height=150)
    )
