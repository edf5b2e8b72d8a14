from __future__ import annotations

import html

import pytest

from cxreports import tables, weekly

from .metrics_fixtures import make_logs, utc
from .test_charts import ODD_NAMES


@pytest.fixture(scope="module")
def odd_metrics():
    rows = [
        {
            "agent_id": f"A{i}",
            "agent_name": name,
            "queue_name": name,
            "channel": name,
            "started_at": utc(2026, 3, 24, 9 + i),
            "sla_status": "meet",
            "csat_status": "completed",
            "csat_score": 5,
        }
        for i, name in enumerate(ODD_NAMES)
    ]
    return weekly(make_logs(rows), "2026-W13", "UTC", min_volume=1)


@pytest.mark.parametrize(
    "table",
    [
        lambda m: tables.agent_table(m),
        lambda m: tables.csat_agents(m),
        lambda m: tables.rate_table(m.queues, "queue_name", "Queue"),
        lambda m: tables.rate_table(m.channels, "channel", "Channel"),
    ],
    ids=["agents", "csat agents", "queues", "channels"],
)
def test_any_unicode_name_shows_as_text_in_tables(odd_metrics, table):
    shown = table(odd_metrics).as_raw_html()
    for name in ODD_NAMES:
        assert html.escape(name, quote=False) in shown, name
