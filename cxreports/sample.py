"""A deterministic generator of realistic CX-log API pages, the bundled sample data set.

The pages have exactly the API's shape (see ``tests/data/seed_page.json``), including what real
exports carry: mixed timestamp formats, a typo'd ``deletedaAt`` key, a ``total`` that does not
match, customer personal data the reports must never show, soft-deleted records, and older
versions of some records repeated on later pages.

The last week carries a planted change, so that the reports' "What changed" section has a
story to tell (:data:`SURGE`): from Monday to Wednesday, 09:00-18:00 Singapore time, most
contacts go to Billing (an invoicing error, say), and Billing answers them slowly, so SLA met
falls beyond noise, mostly in Billing in those hours. Every earlier week comes from the same
process, week after week.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

#: The Monday (UTC) the default sample ends on: its last full week is 2026-W13.
DEFAULT_END = date(2026, 3, 30)

QUEUES = (
    "Tier 1 General Support",
    "Tier 2 Technical Support",
    "Billing",
    "Sales",
    "Returns & Refunds",
)

#: channel -> (share of volume, median handled s, median first response s, SLA target s)
CHANNELS: dict[str, tuple[float, float, float, float]] = {
    "messenger": (0.24, 780, 55, 120),
    "whatsapp": (0.24, 720, 50, 120),
    "livechat": (0.14, 540, 35, 60),
    "email": (0.14, 1500, 5400, 14400),
    "voice": (0.16, 330, 18, 30),
    "telegram": (0.08, 660, 60, 120),
}

DISPOSITIONS = (
    ("Resolved", 0.70),
    ("Follow-up Required", 0.12),
    ("Escalated", 0.08),
    ("No Response", 0.06),
    ("Spam", 0.04),
)

CATEGORIES = {
    "Billing": ("Invoice Question", "Refund Request", "Payment Failed"),
    "Technical Support": ("Account Issues", "App Crash", "Connectivity"),
    "Orders": ("Delivery Status", "Order Change", "Damaged Item"),
    "Account": ("Password Reset", "Profile Update", "Closure Request"),
    "General Inquiry": ("Opening Hours", "Pricing", "Other"),
}
TAGS = ("First-Contact Resolution", "Complaint", "Upsell", "Repeat Caller", "VIP Handling")
LABELS = ("Premium Support", "Technical-V2", "New Customer", "Enterprise", "Churn Risk")

AGENT_NAMES = (
    "Sarah Jenkins", "Daniel Tan", "Priya Raman", "Marcus Lee", "Aisha Rahman",
    "Tomás Ortega", "Mei Ling Chua", "Jonas Weber", "Nur Aziz", "Olivia Brooks",
    "Hiroshi Sato", "Fatima Noor", "Liam O'Connor", "Grace Lim", "Ravi Kumar",
    "Chloé Martin", "Ethan Ng", "Siti Hassan", "Noah Fischer", "Ana Souza",
)  # fmt: skip
FIRST_NAMES = ("John", "Amelia", "Wei", "Kavya", "Lucas", "Zara", "Ahmad", "Emma", "Kenji", "Lina")
LAST_NAMES = ("Doe", "Smith", "Wong", "Nair", "Silva", "Khan", "Tanaka", "Müller", "Lopez", "Ong")

#: Relative volume by weekday (Monday first) and by hour of the day in Singapore time.
WEEKDAY_WEIGHT = (1.25, 1.15, 1.1, 1.05, 1.0, 0.45, 0.3)
HOUR_WEIGHT = (
    0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.3, 0.8, 1.6, 2.4, 2.6, 2.5,
    2.0, 2.3, 2.5, 2.4, 2.1, 1.7, 1.2, 0.9, 0.7, 0.5, 0.3, 0.2,
)  # fmt: skip
SGT = timedelta(hours=8)

#: The planted change of the last week: weekdays (Monday 0) and hours (Singapore time) of the
#: surge, the chance that a contact then goes to Billing, and how much slower Billing answers.
SURGE = {"weekdays": (0, 1, 2), "hours": (9, 18), "billing": 0.6, "slower": 5.0}


@dataclass(frozen=True)
class Agent:
    """A generated agent and the traits that shape their numbers."""

    id: str
    name: str
    email: str
    queues: tuple[str, ...]
    speed: float
    quality: float


def generate(
    out: str | Path,
    records: int = 6000,
    weeks: int = 10,
    seed: int = 7,
    end: date = DEFAULT_END,
    page_size: int = 100,
    surge: bool = True,
) -> list[Path]:
    """Write ``records`` interactions over ``weeks`` weeks ending on ``end`` as API pages.

    Returns the page files written (``cx_logs_page_0001.json``...). The same arguments always
    give byte-identical files. About 2% of records reappear as an older version on a later page.
    ``surge=False`` leaves out the last week's planted change (:data:`SURGE`).

    Examples
    --------
    >>> pages = generate("/tmp/cx-sample", records=200, weeks=2)
    >>> len(pages)
    2
    """
    if records < 0 or weeks < 1 or page_size < 1:
        raise ValueError("records must be >= 0, weeks and page_size >= 1")
    rng = random.Random(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("cx_logs_page_*.json"):
        old.unlink()
    agents = _agents(rng)
    contacts = [_contact(rng, i) for i in range(max(1, int(records * 0.55)))]
    start = datetime.combine(end - timedelta(weeks=weeks), datetime.min.time(), UTC)
    starts = sorted(_start_times(rng, records, start, weeks))
    last = max(1, math.ceil(records / page_size))
    # pages are generated and written one at a time: besides the contacts and start times,
    # only the older versions waiting for their later page are held (about 2% of the records)
    waiting: dict[int, list[dict[str, Any]]] = {}
    written = []
    for index in range(last):
        first = index * page_size
        data = [
            _record(rng, i, starts[i], agents, contacts, surge and _in_surge(starts[i], end))
            for i in range(first, min(first + page_size, records))
        ]
        for old in waiting.pop(index, []):
            data.insert(rng.randrange(len(data) + 1), old)
        if index < last - 1:
            # an older version of a few records shows up again on a later page
            for record in data:
                if rng.random() < 0.02:
                    later = rng.randrange(index + 1, last)
                    waiting.setdefault(later, []).append(_older_version(rng, record))
        page = {
            "requestId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "cxLogs": {
                "data": data,
                # real exports report a total that does not match what they hold
                "total": records + rng.randrange(0, 20),
                "page": index + 1,
                "pageSize": page_size,
                "lastPage": last,
            },
        }
        path = out / f"cx_logs_page_{index + 1:04d}.json"
        path.write_bytes(orjson.dumps(page, option=orjson.OPT_INDENT_2))
        written.append(path)
    return written


def _in_surge(started: datetime, end: date) -> bool:
    """Whether a start falls in the planted surge of the last week (:data:`SURGE`)."""
    local = started + SGT
    first, last = SURGE["hours"]  # type: ignore[misc]
    return (
        local.date() >= end - timedelta(days=7)
        and local.weekday() in SURGE["weekdays"]  # type: ignore[operator]
        and first <= local.hour < last
    )


def _uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _agents(rng: random.Random) -> list[Agent]:
    agents = []
    for i, name in enumerate(AGENT_NAMES):
        first = name.split()[0].lower()
        home = QUEUES[i % len(QUEUES)]
        extra = QUEUES[(i * 3 + 1) % len(QUEUES)]
        agents.append(
            Agent(
                id=_uid(rng),
                name=name,
                email=f"{first}.{i}@example.com",
                queues=(home,) if i % 3 else (home, extra),
                speed=math.exp(rng.gauss(0, 0.18)),
                quality=rng.gauss(0, 0.6),
            )
        )
    return agents


def _contact(rng: random.Random, i: int) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return {
        "id": _uid(rng),
        "name": f"{first} {last}",
        "phone": f"+65{rng.randrange(80000000, 99999999)}",
        "email": f"{first.lower()}.{last.lower()}{i}@mail.example",
        "address": f"{rng.randrange(1, 400)} Orchard Road #{rng.randrange(1, 30):02d}-{i:03d}",
        "labels": rng.sample(LABELS, k=rng.choice((0, 0, 1, 1, 2))),
    }


def _start_times(rng: random.Random, n: int, start: datetime, weeks: int) -> Iterator[datetime]:
    days = weeks * 7
    # gentle growth across the period, plus the weekly and daily rhythm
    day_weights = [WEEKDAY_WEIGHT[(start + timedelta(d)).weekday()] * (1 + 0.15 * d / days)
                   for d in range(days)]  # fmt: skip
    for _ in range(n):
        day = rng.choices(range(days), weights=day_weights)[0]
        hour = rng.choices(range(24), weights=HOUR_WEIGHT)[0]
        local = start + timedelta(days=day, hours=hour, seconds=rng.randrange(3600))
        yield local - SGT


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


def _fmt_space(t: datetime, millis: bool) -> str:
    text = t.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{t.microsecond // 1000:03d}+00" if millis else f"{text}+00"


def _fmt_iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _record(
    rng: random.Random,
    i: int,
    started: datetime,
    agents: list[Agent],
    contacts: list[dict[str, Any]],
    surge: bool = False,
) -> dict[str, Any]:
    channel = rng.choices(list(CHANNELS), weights=[c[0] for c in CHANNELS.values()])[0]
    _, median_handle, median_frt, sla_target = CHANNELS[channel]
    # repeat contacts are common: a quarter of interactions come from a small regular group
    pool = contacts[: max(1, len(contacts) // 10)] if rng.random() < 0.25 else contacts
    contact = rng.choice(pool)
    bot = rng.random() < 0.06
    ai = not bot and rng.random() < 0.04
    queue = rng.choice(QUEUES)
    if surge and rng.random() < (SURGE["billing"] - 0.2) / 0.8:  # type: ignore[operator]
        queue = "Billing"
    candidates = [a for a in agents if queue in a.queues] or agents
    agent = None if bot or ai else rng.choice(candidates)
    first = agent
    if agent and rng.random() < 0.1:
        first = rng.choice([a for a in agents if a is not agent])

    speed = agent.speed if agent else 0.5
    slow = SURGE["slower"] if surge and queue == "Billing" else 1.0
    handled = round(_lognormal(rng, median_handle * speed, 0.55))
    frt = (
        None if rng.random() < 0.03 else round(_lognormal(rng, median_frt * speed * slow, 0.8), 1)  # type: ignore[operator]
    )
    holds = []
    if agent and rng.random() < (0.4 if channel == "voice" else 0.1):
        at = started + timedelta(seconds=rng.randrange(10, max(11, handled // 2)))
        for _ in range(rng.choice((1, 1, 1, 2))):
            length = round(_lognormal(rng, 50, 0.6))
            holds.append((at, length))
            at += timedelta(seconds=length + rng.randrange(20, 120))
    hold_total = sum(length for _, length in holds)
    wrap = round(_lognormal(rng, 150, 0.5)) if agent else 0
    closed = started + timedelta(seconds=handled + hold_total + wrap)
    updated = closed + timedelta(seconds=rng.randrange(1, 30))

    quality = agent.quality if agent else 0.0
    disposition = rng.choices(
        [d for d, _ in DISPOSITIONS],
        weights=[w * (1 + 0.3 * quality if d == "Resolved" else 1) for d, w in DISPOSITIONS],
    )[0]
    if bot or ai:
        disposition = "Resolved" if rng.random() < 0.55 else "Handed Over"
    sla = None
    if rng.random() > 0.05:
        sla = "meet" if frt is not None and frt <= sla_target else "breach"
        if rng.random() < 0.004:
            sla = "paused"
    csat_status, csat_score = "not_sent", None
    if agent and disposition != "Spam" and rng.random() < 0.6:
        csat_status = "sent"
        if rng.random() < 0.35:
            csat_status = "completed"
            mood = quality + (0.8 if disposition == "Resolved" else -0.6) - 0.4 * (sla == "breach")
            csat_score = min(5, max(1, round(rng.gauss(3.9 + 0.6 * mood, 0.9))))
    deleted = updated + timedelta(days=1) if rng.random() < 0.01 else None
    partition = started.strftime("%Y_%m")
    rec_id = _uid(rng)
    level1 = rng.choice(list(CATEGORIES))
    cat1_id = _uid(rng)

    def person(a: Agent | None) -> dict[str, Any] | None:
        return None if a is None else {"id": a.id, "name": a.name, "email": a.email}

    return {
        "id": rec_id,
        "caseId": 10000 + i,
        "entityId": _uid(rng),
        "entityName": "room",
        "contactId": contact["id"],
        "channel": channel,
        "queueId": str(uuid.uuid5(uuid.NAMESPACE_DNS, queue)),
        "agentId": agent.id if agent else None,
        "direction": "outbound" if rng.random() < 0.05 else "inbound",
        "startedDate": _fmt_space(started, millis=True),
        "closedAt": _fmt_space(closed, millis=False),
        "handledTime": handled,
        "totalHoldDuration": hold_total,
        "firstResponseTime": frt,
        "disposition": disposition,
        "channelType": channel,
        "customerPhone": contact["phone"] if channel in ("voice", "whatsapp") else None,
        "contactLabel": contact["labels"],
        "queueName": queue,
        "uid": f"PSID-{rng.randrange(10**9, 10**10)}",
        "createdAt": _fmt_iso(started + timedelta(seconds=5)),
        "updatedAt": _fmt_iso(updated),
        "deletedAt": _fmt_iso(deleted) if deleted else None,
        "wrapUpFormId": _uid(rng) if agent else None,
        "wrapUpDuration": wrap,
        "slaStatus": sla,
        "firstAssigneeId": first.id if first else None,
        "closedAssigneeId": agent.id if agent else None,
        "fullHandledTime": handled + hold_total,
        "resolutionTime": handled + hold_total + wrap,
        "fullResolutionTime": handled + hold_total + wrap + rng.randrange(0, 120),
        "cxIntelligenceStatus": "processed",
        "firstRepliedTime": None if frt is None else round(frt + rng.uniform(0, 8), 1),
        "contact": {
            "id": contact["id"],
            "createdAt": "2026-01-15T10:00:00.000Z",
            "updatedAt": _fmt_iso(started),
            "deletedAt": None,
            "name": contact["name"],
            "address": contact["address"],
            "channel": channel,
            "notes": f"Prefers {channel}",
            "contactNumber": contact["phone"],
            "email": contact["email"],
            "tags": [{"id": _uid(rng), "name": "VIP"}] if rng.random() < 0.1 else [],
        },
        "firstAssignee": None
        if first is None
        else {**person(first), "deletedaAt": None, "provider": "google"},
        "agent": None if agent is None else {**person(agent), "phone": None},
        "closedAssignee": person(agent),
        "mailRoom": {
            "id": _uid(rng),
            "subject": f"Re: case {10000 + i}",
            "fromAddress": contact["email"],
            "toAddress": "support@example.com",
        }
        if channel == "email"
        else None,
        "room": {
            "id": _uid(rng),
            "last_message": f"Thanks {contact['name']}, anything else I can help with?",
            "handled_time": handled,
            "first_response_at": None
            if frt is None
            else _fmt_space(started + timedelta(seconds=frt), millis=False),
            "closed_at": _fmt_space(closed, millis=False),
            "direction": "outgoing",
            "created_at": _fmt_iso(started),
            "updated_at": _fmt_iso(updated),
            "is_bot_room": bot,
            "csat_status": csat_status,
            "csat_score": csat_score,
            "first_response_time": frt,
            "holding_time": hold_total,
            "is_ai_agent_room": ai,
            "subject": f"Case {10000 + i}",
            "cx_log_partition_key": partition,
            "channel": {
                "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, channel)),
                "name": f"Example {channel.title()}",
                "type": channel,
            },
        },
        "wrapUpForm": None
        if agent is None
        else {
            "id": _uid(rng),
            "disposition": disposition,
            "note": f"Spoke with {contact['name']} about the case.",
            "categories": [
                {"id": cat1_id, "value": level1, "parentId": None, "level": 1},
                {
                    "id": _uid(rng),
                    "value": rng.choice(CATEGORIES[level1]),
                    "parentId": cat1_id,
                    "level": 2,
                },
            ],
            "tags": [{"id": _uid(rng), "name": t} for t in rng.sample(TAGS, k=rng.randrange(3))],
            "customFields": [
                {
                    "id": _uid(rng),
                    "textValue": rng.choice(("Low", "Medium", "High")),
                    "attribute": {
                        "id": "attr-urgency",
                        "displayName": "Urgency Level",
                        "systemName": "urgency",
                        "type": "select",
                    },
                }
            ],
        },
        "holdLogs": [
            {
                "id": _uid(rng),
                "started_at": _fmt_space(at, millis=True),
                "ended_at": _fmt_space(at + timedelta(seconds=length), millis=True),
                "duration": length,
                "hold_label_id": "hold-label-default",
                "cx_log_id": rec_id,
                "cx_log_partition_key": partition,
            }
            for at, length in holds
        ],
        "telephonyCdr": {
            "callId": _uid(rng),
            "callerNumber": contact["phone"],
            "ringDuration": round(_lognormal(rng, 8, 0.4)),
            "talkDuration": handled,
            "hangupBy": rng.choice(("customer", "agent")),
        }
        if channel == "voice"
        else None,
        "transcript": "empty",
    }


def _older_version(rng: random.Random, record: dict[str, Any]) -> dict[str, Any]:
    """The same interaction as an earlier export saw it: still open, updated earlier."""
    old = orjson.loads(orjson.dumps(record))
    old["disposition"] = "In Progress"
    old["closedAt"] = None
    old["slaStatus"] = None
    old["updatedAt"] = old["createdAt"]
    old["handledTime"] = max(1, int(record["handledTime"] * rng.uniform(0.2, 0.8)))
    return old
