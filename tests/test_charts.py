from __future__ import annotations

import polars as pl

from cxreports import charts, weekly

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
    counts = {v["bucket"]: v["interactions"] for v in _spec_values(spec) if "bucket" in v}
    assert counts["≤ 15s"] == 2 and counts["15s-30s"] == 1 and counts["30s-1m"] == 1
    assert counts["1m-2m"] == 1 and counts["4h+"] == 1
    assert sum(counts.values()) == 6
    targets = {v["bucket"]: v["target"] for v in _spec_values(spec) if "bucket" in v}
    assert targets["30s-1m"] == "within 1m" and targets["1m-2m"] == "over 1m"
