from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import altair as alt
import polars as pl

from cxreports import charts, load, weekly

from .metrics_fixtures import make_logs, utc


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
    assert [v["value"] for v in _spec_values(spec)][:4] == [0, 0, 0, 1]


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
#: What each name shows as: characters XML cannot hold become U+FFFD.
SHOWN = [
    n.translate({0: 0xFFFD, 7: 0xFFFD, 0xB: 0xFFFD, 0xC: 0xFFFD, 0xFFFE: 0xFFFD}) for n in ODD_NAMES
]

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
