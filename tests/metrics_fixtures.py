"""Build small CxLogs by hand for metric tests: only the columns a test cares about."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl

from cxreports import schema as S
from cxreports.load import CxLogs

DEFAULTS: dict[str, Any] = {
    "queue_name": "Support",
    "channel": "messenger",
    "direction": "inbound",
    "handled_time_s": 100.0,
    "hold_count": 0,
    "hold_time_s": 0.0,
    "disposition": "Resolved",
    "is_bot": False,
    "is_ai_agent": False,
    "csat_status": "not_sent",
}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def make_logs(rows: list[dict[str, Any]]) -> CxLogs:
    """CxLogs whose interactions are ``rows`` (defaults filled in), other tables empty."""
    full = []
    for i, row in enumerate(rows):
        r = {**DEFAULTS, "id": f"i{i}", "contact_id": f"contact{i}", **row}
        r.setdefault("first_assignee_id", r.get("agent_id"))
        r.setdefault("closed_assignee_id", r.get("agent_id"))
        r.setdefault("agent_name", None if r.get("agent_id") is None else f"Agent {r['agent_id']}")
        full.append({c: r.get(c) for c in S.INTERACTIONS})
    interactions = pl.DataFrame(full, schema=S.INTERACTIONS)
    tables = {name: S.empty(schema) for name, schema in S.TABLES.items()}
    tables["interactions"] = interactions
    return CxLogs(**tables, records_read=len(rows))


def varied_rows(n: int, agents: int) -> list[dict]:
    """``n`` interactions of ``agents`` agents over the week of 2026-03-23 (UTC): handle and
    response times, SLA verdicts and CSAT scores that vary, for charts with every part drawn."""
    return [
        {
            "agent_id": f"A{i % agents}",
            "started_at": utc(2026, 3, 23 + i % 5, 8 + i % 4, i),
            "handled_time_s": 90.0 + 700 * (i % 3),
            "first_response_time_s": 20.0 * (1 + i % 7),
            "sla_status": "meet" if i % 4 else "breach",
            "csat_status": "completed",
            "csat_score": 1 + i % 5,
        }
        for i in range(n)
    ]
