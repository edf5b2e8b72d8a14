"""Data quality of a report week: what was read, dropped on purpose, rejected, or looks odd."""

from __future__ import annotations

from typing import Any

import polars as pl

from cxreports.load import CxLogs
from cxreports.metrics.csat import KNOWN_CSAT_STATUS
from cxreports.metrics.sla import KNOWN_SLA
from cxreports.schema import tamed_frame

#: Fields a report relies on; their null counts are shown for the week.
KEY_FIELDS = (
    "agent_id",
    "queue_name",
    "channel",
    "closed_at",
    "handled_time_s",
    "first_response_time_s",
    "disposition",
    "sla_status",
    "csat_status",
)

KNOWN_VALUES: dict[str, tuple[str, ...]] = {
    "sla_status": KNOWN_SLA,
    "csat_status": KNOWN_CSAT_STATUS,
    "channel": ("messenger", "whatsapp", "email", "voice", "livechat", "telegram", "line", "viber",
                "instagram", "sms", "webchat"),
    "direction": ("inbound", "outbound"),
}  # fmt: skip

#: What this data cannot give, and why; reports list these instead of showing a proxy.
NOT_AVAILABLE: dict[str, str] = {
    "Service level (answered within N s of queueing)": (
        "the logs carry no queue-entry or answer time, only the first agent response"
    ),
    "Abandon rate": "abandoned queue attempts are not exported as interactions",
    "Occupancy and utilisation": "agent status and login time are not in the logs",
    "Average speed of answer": "queue wait time is not in the logs",
}


#: Where in its file a quarantine reason says the record was: the panel counts reasons alone.
_WHERE = r"^(record data\[\d+\]|line \d+): "


def data_quality(logs: CxLogs, week_rows: pl.DataFrame) -> dict[str, Any]:
    """Counts for the whole load and for the week's rows (``week_rows``: all rows of the week).

    Returns a dict with ``load`` (records read, superseded, quarantined, first/last seen), ``week``
    (rows, deleted, bot rooms), ``nulls`` (per key field in the week's counted rows), and
    ``unknown_values`` (a frame: field, value, count).
    """
    counted = week_rows.filter(pl.col("deleted_at").is_null() & ~pl.col("is_bot"))
    nulls = counted.select(pl.col(c).null_count().alias(c) for c in KEY_FIELDS).row(0, named=True)
    unknown = [
        week_rows.filter(pl.col(field).is_not_null() & ~pl.col(field).is_in(list(known)))
        .group_by(pl.col(field).alias("value"))
        .agg(pl.len().cast(pl.UInt32).alias("count"))
        .select(pl.lit(field).alias("field"), "value", "count")
        for field, known in KNOWN_VALUES.items()
    ]
    it = logs.interactions
    # a window read from a store carries the whole store's figures, so the counts add up
    whole = {
        "loaded": logs.loaded,
        "first_seen": it["started_at"].min(),
        "last_seen": it["started_at"].max(),
        **{k: logs.extra[k] for k in ("loaded", "first_seen", "last_seen") if k in logs.extra},
    }
    if "store_version" in logs.extra:  # the snapshot read, for the footer (and --as-of)
        whole["store_version"] = logs.extra["store_version"]
    return {
        "load": {
            "files": len(logs.files),
            "records_read": logs.records_read,
            "superseded": logs.superseded,
            "quarantined": logs.quarantined,
            **whole,
        },
        "week": {
            "rows": week_rows.height,
            "deleted": week_rows.filter(pl.col("deleted_at").is_not_null()).height,
            "bot_rooms": week_rows.filter(pl.col("is_bot") & pl.col("deleted_at").is_null()).height,
            "counted": counted.height,
            "first_started": week_rows["started_at"].min(),
            "last_started": week_rows["started_at"].max(),
        },
        "nulls": nulls,
        # values from the data, as reports show them (tamed: no pile of combining marks)
        "unknown_values": tamed_frame(
            pl.concat(unknown).sort("field", "count", descending=[False, True])
        ),
        "quarantine_reasons": tamed_frame(
            logs.quarantine.group_by(pl.col("reason").str.replace(_WHERE, "").alias("reason"))
            .agg(pl.len().cast(pl.UInt32).alias("count"))
            .sort("count", descending=True)
        ),
    }
