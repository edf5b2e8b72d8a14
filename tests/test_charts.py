from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path
from unittest.mock import ANY

import altair as alt
import polars as pl
import pytest

from cxreports import charts, load, tables, weekly
from cxreports.metrics import wilson
from cxreports.schema import tame

from .metrics_fixtures import make_logs, utc, varied_rows


def _spec_values(spec: dict) -> list[dict]:
    """Every inline data row in a chart spec, in order."""
    found = []
    if isinstance(spec, dict):
        if "values" in spec.get("data", {}):
            found += spec["data"]["values"]
        for value in spec.values():
            found += _spec_values(value) if isinstance(value, dict | list) else []
    elif isinstance(spec, list):
        for item in spec:
            found += _spec_values(item)
    return found


def test_trend_keeps_week_order_across_the_new_year():
    rows = [{"agent_id": "A", "started_at": utc(2026, 1, 6, 1)}]
    m = weekly(make_logs(rows), "2026-W02", "UTC", trend_weeks=4)
    spec = charts.trend(m.trend, {"handled": ("Handled", ",.0f")}).to_dict()
    weeks = [v["week"] for v in _spec_values(spec) if "week" in v]
    assert weeks[:4] == ["W51", "W52", "W01", "W02"]
    # the data starts in W02: nothing is known of the weeks before it
    assert [v["value"] for v in _spec_values(spec)][:4] == [None, None, None, 1]


def test_empty_inputs_draw_a_message_not_an_empty_frame():
    m = weekly(make_logs([{"agent_id": "A", "started_at": utc(2026, 1, 6, 1)}]), "2026-W13", "UTC")
    for chart in (
        charts.heatmap(m.heatmap),
        charts.leaderboard(m.agents, "handled", "Handled"),
        charts.distribution(m.rows, "handled_time_s", "Handle time"),
        charts.ratings(m.csat_ratings, None, "Ratings"),
    ):
        texts = [v.get("text", "") for v in _spec_values(chart.to_dict())]
        assert any(t.startswith("No ") for t in texts)


def test_distribution_buckets_count_every_value_once():
    rows = pl.DataFrame({"first_response_time_s": [5.0, 15.0, 16.0, 60.0, 61.0, 99999.0, None]})
    spec = charts.distribution(rows, "first_response_time_s", "FRT", threshold_s=60).to_dict()
    counts = {v["bucket"]: v["interactions"] for v in _spec_values(spec) if "interactions" in v}
    assert counts["≤ 0:15"] == 2 and counts["0:15–0:30"] == 1 and counts["0:30–1:00"] == 1
    assert counts["1:00–2:00"] == 1 and counts["> 4:00:00"] == 1
    assert sum(counts.values()) == 6
    targets = {v["bucket"]: v["target"] for v in _spec_values(spec) if "target" in v}
    assert targets["0:30–1:00"] == "within 1:00 target"
    assert targets["1:00–2:00"] == "over 1:00 target"


def test_a_bars_share_label_never_says_0_percent_for_something():
    rows = pl.DataFrame({"handled_time_s": [10.0] * 399 + [9000.0]})  # 1 of 400 past 2 hours
    spec = charts.distribution(rows, "handled_time_s", "Handle time").to_dict()
    shown = {v["bucket"]: v["_shown"] for v in _spec_values(spec) if "_shown" in v}
    assert shown["≤ 0:15"] == ">99%" and shown["1:00:00–4:00:00"] == "<1%"
    assert shown["0:15–0:30"] == "0%"  # nothing there: 0%
    texts = [u for u in spec["layer"] if u["mark"]["type"] == "text"]
    assert texts and all(u["encoding"]["text"]["field"] == "_shown" for u in texts)
    mix = pl.DataFrame({"disposition": ["Resolved", "Spam"], "count": [999, 1]})
    mix = mix.with_columns(share=pl.col("count") / 1000)
    values = _spec_values(charts.mix(mix, "disposition", "Dispositions").to_dict())
    assert {v["disposition"]: v["_shown"] for v in values} == {"Resolved": ">99%", "Spam": "<1%"}


#: Names people type into a CX platform: emoji (astral plane, a ZWJ sequence), right-to-left
#: text, combining marks, markup, and control characters, which a JSON page carries as escapes
#: (a lone surrogate escape such as ``"\ud83d"`` reaches polars as NUL).
ODD_NAMES = [
    "😀🚀 Ana",
    "👩‍👩‍👧 Team",
    "שלום עליכם",
    "Zoë Z\u0301\u0308",
    "<b>Tom & Jerry</b>",
    "Nul\x00 Bell\x07",
    "Tab\x0bFF\x0c\ufffe",
]
#: What each name shows as: without control characters (as reports name it), and the
#: characters XML cannot hold then U+FFFD.
SHOWN = [tame(n).replace("\ufffe", "\ufffd") for n in ODD_NAMES]

_CONVERT = """
import json, sys
import vl_convert
out = []
for spec in json.load(open(sys.argv[1], encoding="utf-8")):
    png = vl_convert.vegalite_to_png(spec)
    out.append([vl_convert.vegalite_to_svg(spec), len(png)])
json.dump(out, open(sys.argv[2], "w", encoding="utf-8"))
"""


def _odd_charts() -> dict[str, alt.TopLevelMixin]:
    rows = [
        {
            "agent_id": f"A{i}",
            "agent_name": name,
            "queue_name": name,
            "channel": name,
            "started_at": utc(2026, 3, 24, 9 + i),
            "sla_status": "meet" if i % 2 else "breach",
            "csat_status": "completed",
            "csat_score": 1 + i % 5,
        }
        for i, name in enumerate(ODD_NAMES)
    ]
    m = weekly(make_logs(rows), "2026-W13", "UTC", min_volume=1)
    shares = pl.DataFrame({"name": ODD_NAMES, "count": [1] * 7, "share": [1 / 7] * 7})
    return {
        "leaderboard": charts.leaderboard(m.agents, "handled", "Handled"),
        "rate_by queue": charts.rate_by(
            m.queues, "queue_name", "sla_met_rate", "SLA met", count="sla_breaches"
        ),
        "rate_by channel": charts.rate_by(m.channels, "channel", "sla_met_rate", "SLA met"),
        "ratings by queue": charts.ratings(m.csat_by_queue, "queue_name", "By queue"),
        "ratings by channel": charts.ratings(m.csat_by_channel, "channel", "By channel"),
        "mix": charts.mix(shares.rename({"name": "category"}), "category", "Categories"),
    }


def _convert(specs: list[dict], tmp_path: Path) -> list[tuple[str, int]]:
    """(SVG, PNG size) of each spec, drawn by vl-convert in a child process: it aborts the
    whole process on text XML cannot hold."""
    (tmp_path / "specs.json").write_text(json.dumps(specs), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", _CONVERT, str(tmp_path / "specs.json"), str(tmp_path / "out.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))


def test_any_unicode_name_renders_in_every_chart(tmp_path):
    named = _odd_charts()
    rendered = _convert([c.to_dict() for c in named.values()], tmp_path)
    for (what, _), (svg, png_size) in zip(named.items(), rendered, strict=True):
        assert png_size > 0, what
        for name in SHOWN:
            assert html.escape(name, quote=False) in svg, (what, name)


def test_a_lone_surrogate_escape_in_a_page_still_charts(seed_record, write_page, tmp_path):
    seed_record["agent"]["name"] = "\ud83d Ana \U0001f600"
    # json.dumps writes the lone surrogate as the escape "\ud83d", as a broken exporter would
    logs = load(write_page([seed_record]))
    m = weekly(logs, "2026-W14", "UTC", min_volume=1)
    [(svg, png_size)] = _convert(
        [charts.leaderboard(m.agents, "handled", "Handled").to_dict()], tmp_path
    )
    assert png_size > 0
    assert " Ana \U0001f600" in svg


def test_interactive_charts_are_the_offline_jupyter_widget():
    charts.use_renderer("interactive")
    try:
        chart = charts.daily_volume(pl.DataFrame({"day": ["2026-03-23"], "handled": [3]}))
        bundle = chart._repr_mimebundle_()
        bundle = bundle[0] if isinstance(bundle, tuple) else bundle
        assert "application/vnd.jupyter.widget-view+json" in bundle
        # the widget's JavaScript is bundled from vl-convert, not imported from a CDN
        assert alt.JupyterChart._is_offline
        assert not re.search(r"""(import|from)\s*\(?\s*["']https?://""", alt.JupyterChart._esm)
    finally:
        charts.use_renderer("static")
    assert "image/svg+xml" in chart._repr_mimebundle_()


# --- report craft: units, intervals, order, legends, accessibility -----------------------------


def _layers(spec: dict) -> list[dict]:
    """Every unit spec (one mark) inside a layered or concatenated chart spec."""
    found = []
    for key in ("layer", "vconcat", "hconcat"):
        for part in spec.get(key, []):
            found += _layers(part)
    return found or ([spec] if "mark" in spec else [])


@pytest.fixture(scope="module")
def week_metrics():
    rows = varied_rows(40, 3)
    return weekly(make_logs(rows), "2026-W13", "UTC", trend_weeks=3, min_volume=1)


def test_trend_axes_start_at_zero_and_rates_carry_their_95_interval(week_metrics):
    spec = charts.trend(week_metrics.trend, charts.AGENT_TRENDS).to_dict()
    panels = spec["vconcat"]
    assert len(panels) == len(charts.AGENT_TRENDS)
    by_title = {p["title"]["text"]: p for p in panels}
    resolved = by_title["Resolved"]
    band = [u for u in _layers(resolved) if u["mark"]["type"] == "area"]
    assert len(band) == 1 and band[0]["encoding"]["y2"]["field"] == "high"
    assert band[0]["encoding"]["y"]["scale"]["domain"] == [0, 1]
    rows = [v for v in _spec_values(resolved) if v.get("week") == "W13" and "low" in v]
    m = week_metrics.summary.row(0, named=True)
    assert rows[0]["low"] == pytest.approx(m["resolved_rate_low"])
    assert rows[0]["high"] == pytest.approx(m["resolved_rate_high"])
    handled = _layers(by_title["Handled"])
    assert all(
        u["encoding"]["y"]["scale"] == {"zero": True} for u in handled if "y" in u["encoding"]
    )
    assert not any(u["mark"]["type"] == "area" for u in handled)
    assert "no interval" in by_title["Handled"]["title"]["subtitle"]


@pytest.mark.parametrize(
    ("values", "dy", "shaded"),
    [
        ([0.8, 0.6], ("low", 12), True),  # the line comes down into the point: below the band
        ([0.6, 0.8], ("high", -5), True),  # above the band, off its dashed edge
        ([0.3, 0.1], ("high", -5), True),  # falls, but below it is the axis: above
        ([None, 0.7], ("high", -5), False),  # one week of data: no band to call shaded
    ],
)
def test_a_trends_last_label_stays_off_its_line_and_shaded_means_a_band(values, dy, shaded):
    frame = pl.DataFrame(
        {
            "iso_week": ["2026-W12", "2026-W13"],
            "resolved_rate": values,
            "resolved_rate_low": [v and v - 0.05 for v in values],
            "resolved_rate_high": [v and v + 0.05 for v in values],
        }
    )
    panel = charts._trend_panel(frame, "resolved_rate", "Resolved", ".0%")
    panel = panel.to_dict(validate=False)
    [label] = [u for u in panel["layer"] if u["mark"]["type"] == "text"]
    assert (label["encoding"]["y"]["field"], label["mark"]["dy"]) == dy
    assert ("; shaded" in panel["title"]["subtitle"]) is shaded
    # a measure without an interval: the label sits by its point
    plain = charts._trend_panel(
        frame.select("iso_week", "resolved_rate"), "resolved_rate", "R", ".1f"
    )
    [label] = [u for u in plain.to_dict(validate=False)["layer"] if u["mark"]["type"] == "text"]
    assert label["encoding"]["y"]["field"] == "value"
    assert label["mark"]["dy"] == {(0.8, 0.6): 14, (0.6, 0.8): -10}.get(tuple(values), ANY)


def test_a_count_of_part_of_a_week_is_drawn_hollow_and_said():
    # the data ends on Monday: 92 against 495 drew a cliff no reader could tell from a fall
    frame = pl.DataFrame(
        {
            "iso_week": ["2026-W11", "2026-W12", "2026-W13"],
            "handled": [480, 495, 92],
            "resolved_rate": [0.7, 0.72, 0.69],
            "part_week": [True, False, True],
        }
    )
    chart = charts.trend(frame, {"handled": ("Handled", ",.0f"), "resolved_rate": ("R", ".0%")})
    handled, resolved = chart.to_dict()["vconcat"]
    [hollow] = [u for u in handled["layer"] if u["mark"]["type"] == "point"]
    assert hollow["mark"]["fill"] == "white"
    assert [v["week"] for v in hollow["data"]["values"]] == ["W11", "W13"]
    # the solid line joins the whole weeks; the line into a part week's point is dashed
    dashed, solid = [u for u in handled["layer"] if u["mark"]["type"] == "line"]
    assert dashed["mark"]["strokeDash"] and "data" not in dashed  # every week
    assert "strokeDash" not in solid["mark"]
    assert [v["week"] for v in solid["data"]["values"]] == ["W12"]
    assert handled["title"]["subtitle"][1] == (
        "hollow: only part of the week is in the data (W11, W13)"
    )
    assert "(W11, W13 only part of a week)" in chart.usermeta["panels"][0][1]
    # a rate of part of a week is a rate: drawn as any other
    assert not any(u["mark"]["type"] == "point" for u in resolved["layer"])
    assert "part" not in str(resolved["title"]) + chart.usermeta["panels"][1][1]
    # a scorecard's weekly volume draws them pale; a frame without the column, none
    pale = charts.weekly_volume(frame).to_dict()
    assert pale["layer"][0]["encoding"]["opacity"]["condition"]["test"]["oneOf"] == ["11", "13"]
    assert pale["title"]["subtitle"] == "pale: only part of the week is in the data (W11, W13)"
    plain = charts.weekly_volume(frame.drop("part_week")).to_dict()
    assert "opacity" not in plain["layer"][0]["encoding"]
    whole = charts.trend(frame.with_columns(part_week=False), {"handled": ("H", ",.0f")})
    assert isinstance(whole.to_dict()["vconcat"][0]["title"]["subtitle"], str)


def test_durations_read_as_m_ss_on_trend_axes_labels_and_tooltips(week_metrics):
    spec = charts.trend(week_metrics.trend, {"aht_s": ("Handle time, mean", charts.DURATION)})
    panel = spec.to_dict()["vconcat"][0]
    line = next(u for u in _layers(panel) if u["mark"]["type"] == "line")
    axis, scale = line["encoding"]["y"]["axis"], line["encoding"]["y"]["scale"]
    assert axis["labelExpr"] == charts.DURATION_LABEL
    assert axis["values"][0] == 0 and all(v % 60 == 0 for v in axis["values"])
    assert scale["domain"] == [0, axis["values"][-1]]
    week = next(v for v in _spec_values(panel) if v.get("week") == "W13")
    assert week["shown"] == tables.duration(week_metrics.summary["aht_s"][0])
    assert re.fullmatch(r"\d+:\d\d", week["shown"])


def test_the_duration_label_expression_writes_m_ss_and_h_mm_ss(tmp_path):
    chart = (
        alt.Chart(alt.Data(values=[{"v": 1}]))
        .mark_point()
        .encode(
            alt.X(
                "v:Q",
                axis=alt.Axis(values=[0, 75, 600, 3725], labelExpr=charts.DURATION_LABEL),
                scale=alt.Scale(domain=[0, 4000]),
            )
        )
    )
    [(svg, _)] = _convert([chart.to_dict()], tmp_path)
    labels = re.findall(r">([^<>]+)</text>", svg)
    assert labels[:4] == ["0:00", "1:15", "10:00", "1:02:05"]


def _hourly(rates: list[tuple[int, float | None, int, int, int]]) -> pl.DataFrame:
    """An hourly frame from (hour, sla_met_rate, sla_breaches, sla_eligible, handled)."""
    hour, rate, breaches, eligible, handled = zip(*rates, strict=True)
    frame = pl.DataFrame(
        {
            "hour": pl.Series(hour, dtype=pl.Int8),
            "handled": pl.Series(handled, dtype=pl.UInt32),
            "sla_met_rate": pl.Series(rate, dtype=pl.Float64),
            "sla_breaches": pl.Series(breaches, dtype=pl.UInt32),
            "sla_eligible": pl.Series(eligible, dtype=pl.UInt32),
        }
    )
    low, high = wilson(pl.col("sla_eligible") - pl.col("sla_breaches"), pl.col("sla_eligible"))
    known = pl.col("sla_met_rate").is_not_null()
    return frame.with_columns(
        sla_met_rate_low=pl.when(known).then(low), sla_met_rate_high=pl.when(known).then(high)
    )


def test_worst_hours_lists_every_hour_with_a_verdict_surest_worst_first_ties_by_breaches():
    hourly = _hourly(
        [
            (8, 0.9, 1, 10, 12),
            (9, 0.5, 5, 10, 10),
            (10, 0.5, 1, 2, 2),  # same rate as 9, fewer breaches: after it
            (11, 0.9, 1, 10, 10),  # ties with 8 on rate and breaches: the earlier hour first
            (12, None, 0, 0, 3),  # volume but no verdict: listed last, without a bar
            (13, 1.0, 0, 1, 1),
            (14, 0.0, 1, 1, 1),  # 0%, but on one verdict: anywhere from 0% to 79%
        ]
    )
    spec = charts.worst_hours(hourly).to_dict()
    y = next(u for u in _layers(spec) if u["mark"]["type"] == "bar")["encoding"]["y"]
    # by the top of the 95% interval: 9 (50% of 10, up to 76%), 14 (up to 79%), 10 (up to 91%)
    assert y["sort"] == [
        "09:00–09:59",
        "14:00–14:59",
        "10:00–10:59",
        "08:00–08:59",
        "11:00–11:59",
        "13:00–13:59",
        "12:00–12:59",
    ]
    labels = {v["group"]: v["_label"] for v in _spec_values(spec) if "_label" in v}
    assert labels["10:00–10:59"] == "1 of 2" and labels["13:00–13:59"] == "0 of 1"
    assert labels["12:00–12:59"] == "no SLA verdict"
    bars = next(u for u in _layers(spec) if u["mark"]["type"] == "bar")
    assert bars["encoding"]["x"]["scale"]["domain"] == [0, 1]
    assert spec["title"]["subtitle"] == "beside each bar: breaches of SLA verdicts"
    assert spec["description"].startswith("SLA met by hour, worst first")
    lowest = "Lowest: 14:00–14:59 at 0% (0–79%), breaches of SLA verdicts: 1 of 1"
    assert lowest in spec["description"]
    assert spec["description"].endswith("No SLA verdict in 12:00–12:59.")


def test_heatmap_says_when_the_clock_changed_in_the_week():
    # New York, 2026-W44: clocks go back on Sun 1 Nov at 02:00 EDT, so 01:00-01:59 happens
    # twice (05:xx and 06:xx UTC) and the heatmap's Sunday 01:00 cell counts both hours
    rows = [
        {"agent_id": "A", "started_at": utc(2026, 11, 1, 5, 30)},
        {"agent_id": "A", "started_at": utc(2026, 11, 1, 6, 30)},
        {"agent_id": "A", "started_at": utc(2026, 10, 28, 15)},
        {"agent_id": "A", "started_at": utc(2026, 10, 21, 15)},
        {"agent_id": "A", "started_at": utc(2026, 3, 4, 15)},
    ]
    m = weekly(make_logs(rows), "2026-W44", "America/New_York", trend_weeks=2)
    sunday_one = m.heatmap.filter(weekday=7, hour=1)["handled"].item()
    assert sunday_one == 2
    spec = charts.heatmap(m.heatmap, m.week).to_dict()
    said = " ".join(spec["title"]["text"])
    assert said == (
        "On Sun 01 Nov the clocks went back 1 hour at 02:00: that day's 01:00 row counts two hours."
    )
    assert spec["description"].endswith(said)
    # spring: the 02:00 row of Sun 8 Mar is empty; a week with no change says nothing
    m = weekly(make_logs(rows), "2026-W10", "America/New_York", trend_weeks=2)
    spec = charts.heatmap(m.heatmap, m.week).to_dict()
    assert "that day's 02:00 row is empty" in " ".join(spec["title"]["text"])
    m = weekly(make_logs(rows), "2026-W43", "America/New_York", trend_weeks=2)
    assert "title" not in charts.heatmap(m.heatmap, m.week).to_dict()


def test_heatmap_steps_and_legend_are_whole_numbers_and_every_count_is_printed(week_metrics):
    spec = charts.heatmap(week_metrics.heatmap).to_dict()
    rect = next(u for u in _layers(spec) if u["mark"]["type"] == "rect")
    scale = rect["encoding"]["color"]["scale"]
    assert scale["type"] == "threshold"
    assert all(isinstance(t, int) for t in scale["domain"])
    assert rect["encoding"]["color"]["legend"]["format"] == "d"
    printed = {(v["weekday"], v["hour"]): v["shown"] for v in _spec_values(spec) if "shown" in v}
    for cell in week_metrics.heatmap.iter_rows(named=True):
        expected = str(cell["handled"]) if cell["handled"] else ""
        assert printed[(cell["weekday"], cell["hour"])] == expected


@pytest.mark.parametrize(
    ("largest", "steps"), [(1, [1]), (4, [1, 2, 3, 4]), (9, [1, 5]), (16, [1, 5, 10, 15])]
)
def test_count_steps_are_whole_numbers_that_cover_the_largest(largest, steps):
    assert charts._count_steps(largest) == steps


def test_static_svg_carries_a_title_and_a_description_with_the_main_figure(week_metrics):
    charts.use_renderer("static")
    # a second queue, better than the fixture's one: the chart draws a bar for each
    better = week_metrics.queues.with_columns(
        queue_name=pl.lit("Billing"), **{c: pl.lit(0.95) for c in ("sla_met_rate",)}
    )
    chart = charts.rate_by(
        pl.concat([week_metrics.queues, better]),
        "queue_name",
        "sla_met_rate",
        "SLA met",
        count="sla_breaches",
        subject="queue",
    )
    bundle = chart._repr_mimebundle_()
    svg = (bundle[0] if isinstance(bundle, tuple) else bundle)["image/svg+xml"]
    assert re.match(r'<svg role="img" [^>]*><title>SLA met by queue</title><desc>', svg)
    desc = re.search(r"<desc>(.*?)</desc>", svg).group(1)
    rate = week_metrics.queues["sla_met_rate"][0]
    assert f"Lowest: Support at {rate:.0%}" in desc


def test_a_report_of_one_queue_says_its_figures_instead_of_drawing_one_bar(week_metrics, tmp_path):
    # the fixture's week has one queue: a bar chart "by queue" would repeat the headline
    assert week_metrics.queues.height == 1
    q = week_metrics.queues.row(0, named=True)
    spec = charts.rate_by(
        week_metrics.queues,
        "queue_name",
        "sla_met_rate",
        "SLA met",
        count="sla_breaches",
        total="sla_eligible",
        count_title="breaches of SLA verdicts",
        subject="queue",
    ).to_dict()
    assert "layer" not in spec and spec["mark"]["type"] == "text"
    [lines] = [v["text"] for v in _spec_values(spec) if "text" in v]
    assert lines == [
        f"One queue in this report: {q['queue_name']}",
        f"SLA met {q['sla_met_rate']:.0%} (95% interval {100 * q['sla_met_rate_low']:.0f}–"
        f"{q['sla_met_rate_high']:.0%})",
        f"breaches of SLA verdicts: {q['sla_breaches']} of {q['sla_eligible']}",
    ]
    assert spec["usermeta"]["title"] == "SLA met by queue"
    # a long queue name is cut, not a chart wider than the page
    long = week_metrics.queues.with_columns(queue_name=pl.lit("Billing " + "and refunds " * 20))
    wide = charts.rate_by(long, "queue_name", "sla_met_rate", "SLA met", subject="queue")
    [(svg, _)] = _convert([wide.to_dict()], tmp_path)
    assert int(re.search(r'<svg[^>]* width="(\d+)"', svg).group(1)) <= charts.WIDTH + 20
    assert "…" in svg
    # by day, one bar still says which day it is
    one_day = week_metrics.daily.filter(pl.col("sla_met_rate").is_not_null()).head(1)
    by_day = charts.rate_by(one_day, "day", "sla_met_rate", "SLA met", subject="day")
    assert any(u["mark"]["type"] == "bar" for u in _layers(by_day.to_dict()))
    # and its CSAT ratings by queue, which would be the bar of all responses again
    ratings = charts.ratings(week_metrics.csat_by_queue, "queue_name", "By queue").to_dict()
    [lines] = [v["text"] for v in _spec_values(ratings) if "text" in v]
    responses = week_metrics.csat_ratings["responses"].sum()
    assert lines == [
        "The only queue with survey answers:",
        q["queue_name"],
        f"its ratings are those of all responses ({responses})",
    ]
    # two channels are drawn, a bar each
    one = week_metrics.csat_by_channel
    two = pl.concat([one, one.with_columns(channel=pl.lit("email"))])
    assert charts.ratings(two, "channel", "By channel").to_dict()["mark"]["type"] == "bar"


def test_bars_labelled_with_their_value_have_no_gridlines_through_the_labels(
    week_metrics, tmp_path
):
    # a bar's value is printed at its end; a gridline would run through "17 · not ranked"
    m = week_metrics
    labelled = {
        "leaderboard": charts.leaderboard(m.agents, "handled", "Handled"),
        "distribution": charts.distribution(m.rows, "handled_time_s", "Handle time"),
        "mix": charts.mix(m.dispositions, "disposition", "Dispositions"),
        "daily": charts.daily_volume(m.daily),
    }
    kept = charts.trend(m.trend, {"handled": ("Handled", ",.0f")})  # no labels on its bars
    drawn = _convert([c.to_dict() for c in [*labelled.values(), kept]], tmp_path)
    for name, (svg, _) in zip(labelled, drawn, strict=False):
        assert "role-axis-grid" not in svg, name
        assert "role-axis-label" in svg, name  # the axis itself stays
    assert "role-axis-grid" in drawn[-1][0]


def test_the_samples_longest_queue_name_is_drawn_whole_in_every_chart_by_queue(week_metrics):
    name = "Tier 2 Technical Support"  # the sample's longest
    m = week_metrics
    queues = m.queues.with_columns(queue_name=pl.lit(name))
    specs = [
        charts.ratings(
            m.csat_by_queue.with_columns(queue_name=pl.lit(name)), "queue_name", "By queue"
        ),
        charts.rate_by(
            pl.concat([queues, queues.with_columns(queue_name=pl.lit("Billing"))]),
            "queue_name",
            "sla_met_rate",
            "SLA met",
            count="sla_breaches",
            subject="queue",
        ),
    ]
    charts.use_renderer("static")  # the report's theme: its font and sizes
    for spec in specs:
        svg = charts._svg(spec.to_dict())["image/svg+xml"]
        assert name in svg and "…" not in svg


def test_a_bar_chart_keeps_its_width_however_long_its_counts(week_metrics):
    # a wider chart is shrunk on a phone, its text with it: the bars give the labels room
    charts.use_renderer("static")
    queue = week_metrics.queues.with_columns(queue_name=pl.lit("Tier 2 Technical Support"))
    queues = pl.concat([queue, queue.with_columns(queue_name=pl.lit("Billing"))])
    widths = []
    for scale in (1, 1000, 100_000):
        many = queues.with_columns(pl.col("sla_breaches", "sla_eligible") * scale)
        chart = charts.rate_by(
            many,
            "queue_name",
            "sla_met_rate",
            "SLA met",
            count="sla_breaches",
            total="sla_eligible",
            subject="queue",
        )
        svg = charts._svg(chart.to_dict())["image/svg+xml"]
        widths.append(float(re.search(r'<svg[^>]* width="([\d.]+)"', svg).group(1)))
        row = many.row(0, named=True)
        assert f">{row['sla_breaches']:,} of {row['sla_eligible']:,}<" in svg
    assert max(widths) <= charts.WIDTH, widths


def test_every_report_chart_is_described(week_metrics):
    m = week_metrics
    for chart in (
        charts.leaderboard(m.agents, "handled", "Handled"),
        charts.distribution(m.rows, "first_response_time_s", "First response", threshold_s=60),
        charts.trend(m.trend, charts.SLA_CSAT_TRENDS),
        charts.heatmap(m.heatmap),
        charts.mix(m.dispositions, "disposition", "Dispositions"),
        charts.worst_hours(m.hourly),
        charts.ratings(m.csat_by_queue, "queue_name", "By queue"),
        charts.daily_volume(m.daily),
    ):
        spec = chart.to_dict()
        assert spec["usermeta"]["title"] and re.search(r"\d", spec["description"]), spec.get(
            "description"
        )


def test_distribution_names_its_median_and_mean(week_metrics):
    spec = charts.distribution(week_metrics.rows, "handled_time_s", "Handle time").to_dict()
    frt = week_metrics.rows["handled_time_s"]
    assert spec["title"]["subtitle"][0].startswith(
        f"median {tables.duration(frt.median())} · mean {tables.duration(frt.mean())}"
    )


def test_static_charts_display_as_their_svg_without_the_schema_check_and_interactive_keep_it():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        bundles = shell.display_formatter.mimebundle_formatter
        chart = alt.Chart(pl.DataFrame({"x": [1, 2]})).mark_bar().encode(x="x:Q")
        charts.use_renderer("static")
        assert bundles.lookup(chart) is charts._unchecked_bundle
        shown, _ = shell.display_formatter.format(chart)
        checked = charts._svg(chart.to_dict())["image/svg+xml"]  # altair's own way, checked
        assert shown["image/svg+xml"] == checked == charts.svg(chart)
        # a spec the schema refuses is still drawn as it is, with no check on the way
        odd = chart.properties()
        odd._kwds["description"] = 7  # not a string: the schema check would refuse it
        with pytest.raises(Exception, match="invalid value for `description`"):
            odd.to_dict()
        assert "image/svg+xml" in shell.display_formatter.format(odd)[0]
        charts.use_renderer("interactive")
        with pytest.raises(KeyError):
            bundles.lookup(chart)
    finally:
        charts.use_renderer("static")
        InteractiveShell.clear_instance()


def test_static_charts_are_built_unchecked_into_the_specs_interactive_ones_get(week_metrics):
    from altair.utils import schemapi

    m = week_metrics
    builders = {
        "trend": lambda: charts.trend(m.trend, charts.AGENT_TRENDS),
        "heatmap": lambda: charts.heatmap(m.heatmap),
        "distribution": lambda: charts.distribution(m.rows, *m.first_response, threshold_s=60),
        "leaderboard": lambda: charts.leaderboard(m.agents, "handled", "Handled"),
        "worst_hours": lambda: charts.worst_hours(m.hourly),
        "ratings": lambda: charts.ratings(m.csat_ratings, None, "CSAT ratings"),
    }
    try:
        charts.use_renderer("interactive")
        assert schemapi.DEBUG_MODE
        checked = {name: build().to_dict() for name, build in builders.items()}
        charts.use_renderer("static")
        assert not schemapi.DEBUG_MODE  # no check of each part as it is made ...
        with pytest.raises(Exception, match="labelAngle"):
            alt.Axis(labelAngle="sideways").to_dict()  # ... only of the finished spec
        for name, build in builders.items():
            assert build().to_dict(validate=False) == checked[name], name
    finally:
        charts.use_renderer("static")


def test_count_axes_tick_whole_numbers_only():
    # a count axis whose largest value is 1 was ticked 0, 0.5, 1 and labelled "0, 1, 1" (the
    # scorecards' breaches by hour of an agent with one breach; a week of one interaction)
    import vl_convert

    rows = pl.DataFrame(
        {"hour": [9, 10], "sla_status": ["breach", "meet"]},
        schema={"hour": pl.Int8, "sla_status": pl.String},
    )
    m = weekly(make_logs([{"agent_id": "A", "started_at": utc(2026, 3, 24, 9)}]), "2026-W13", "UTC")
    for chart in (
        charts.breaches_by_hour(rows),
        charts.leaderboard(m.agents.with_columns(ranked=pl.lit(True)), "handled", "Handled"),
        charts.trend(m.trend, {"handled": ("Handled", ",.0f")}),
    ):
        svg = vl_convert.vegalite_to_svg(chart.to_dict())
        ticks = re.findall(r"role-axis-label[^>]*>(?:(?!</g>).)*?</g>", svg, re.S)
        labels = [t for block in ticks for t in re.findall(r">([\d,.]+)</text>", block)]
        numbers = [label for label in labels if re.fullmatch(r"\d[\d,]*", label)]
        assert numbers and len(numbers) == len(set(numbers)), numbers


def test_breaches_by_hour_skip_no_hour_and_draw_none_for_an_hour_without_verdicts():
    # 17:00 then 19:00 (0 breaches of 2): the axis ran 17:00, 19:00, 20:00 with 18:00 missing
    import vl_convert

    rows = pl.DataFrame(
        {"hour": [17, 17, 19, 19, 20], "sla_status": ["breach", "meet", "meet", "meet", "breach"]},
        schema={"hour": pl.Int8, "sla_status": pl.String},
    )
    chart = charts.breaches_by_hour(rows)
    values = {v["label"]: (v["breaches"], v["verdicts"]) for v in _spec_values(chart.to_dict())}
    assert values == {"17:00": (1, 2), "18:00": (None, 0), "19:00": (0, 2), "20:00": (1, 1)}
    svg = vl_convert.vegalite_to_svg(chart.to_dict())
    assert re.findall(r">(\d\d:00)</text>", svg) == ["17:00", "18:00", "19:00", "20:00"]
    # three bars and three labels (19:00's 0 among them); none for 18:00
    assert len(re.findall(r'aria-roledescription="bar"', svg)) == 3
    assert "most at 17:00 (1)" in chart.description


def test_a_leaderboard_of_many_agents_draws_the_first_30_and_says_so():
    # 150 agents' bars ran 3,000 px tall, off the printed page
    rows = [
        {"agent_id": f"A{i:03}", "started_at": utc(2026, 3, 24, 9, j % 60), "sla_status": "meet"}
        for i in range(45)
        for j in range(1 + i % 7)
    ]
    m = weekly(make_logs(rows), "2026-W13", "UTC", min_volume=3)
    spec = charts.leaderboard(m.agents, "handled", "Handled interactions").to_dict()
    labels = {v["label"] for v in _spec_values(spec) if "label" in v}
    assert len(labels) == charts.LEADERBOARD_MAX == 30
    assert spec["title"]["subtitle"] == "the first 30 of 45 agents; the agent table lists them all"
    assert "(the first 30 of 45 agents;" in spec["description"]
    few = charts.leaderboard(m.agents.head(5), "handled", "Handled interactions").to_dict()
    assert few["title"] == "Handled interactions"  # all drawn: nothing to say


def test_an_empty_charts_sentence_keeps_an_abbreviation_in_capitals():
    empty = _hourly([(9, None, 0, 0, 3)]).filter(pl.col("handled") > 5)
    text = json.dumps(charts.rate_by(empty, "hour", "sla_met_rate", "SLA met").to_dict())
    assert "No SLA met data this week" in text and "sla met" not in text
    rows = pl.DataFrame({"handled_time_s": [None]}, schema={"handled_time_s": pl.Float64})
    text = json.dumps(charts.distribution(rows, "handled_time_s", "Handle time").to_dict())
    assert "No handle time values this week" in text


def test_a_notebook_shows_the_trend_panel_by_panel_each_described_with_its_weeks(monkeypatch):
    import IPython.display

    m = weekly(make_logs(varied_rows(60, 3)), "2026-W13", "UTC")
    shown: list = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    chart = charts.trend(m.trend, charts.AGENT_TRENDS)
    chart._ipython_display_()
    assert [c.usermeta["title"] for c in shown] == [t for t, _ in charts.AGENT_TRENDS.values()]
    assert shown[0].description.startswith("Handled, 2026-W06 to 2026-W13, oldest first: — → ")
    assert all(len(c.vconcat) == 1 for c in shown)
    # the spec, the email's picture and the tests still see one chart of four panels
    assert len(chart.to_dict()["vconcat"]) == 4
    # a trend styled further, or laid out in columns, is shown whole, as styled
    for whole in (
        chart.properties(title="Trends"),
        chart.configure_axis(labelColor="red"),
        charts.trend(m.trend, charts.AGENT_TRENDS, columns=2),
    ):
        shown.clear()
        whole._ipython_display_()
        assert len(shown) == 1 and type(shown[0]) is alt.VConcatChart
        assert shown[0].to_dict() == whole.to_dict()


def test_shares_are_drawn_on_an_axis_of_0_to_100_percent():
    # dispositions (72% at most) beside wrap-up categories (23%) on a desktop: each on its own
    # axis, a 23% bar was as long as a 72% one
    m = weekly(make_logs(varied_rows(60, 3)), "2026-W13", "UTC")
    categories = pl.DataFrame({"category": ["Billing", "Orders"], "count": [3, 10]}).with_columns(
        share=pl.col("count") / 13
    )
    for frame, column in ((m.dispositions, "disposition"), (categories, "category")):
        spec = charts.mix(frame, column, "Mix").to_dict()
        [x] = {json.dumps(layer["encoding"]["x"]["scale"]) for layer in spec["layer"]}
        assert json.loads(x) == {"domain": [0, 1]}
