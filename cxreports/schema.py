"""Every schema in one place: the API record as read, and the tables cxreports produces.

The raw schemas name only the fields cxreports uses. Fields not named here (customer names,
phone numbers, message text, ...) are never read into memory, which keeps loading fast and keeps
personal data out of every table and report.
"""

from __future__ import annotations

import unicodedata

import polars as pl

from cxreports.exceptions import ParameterError

_ID = pl.String
_TS = pl.String  # timestamps arrive in mixed text formats; load.parse_timestamp types them
_SECONDS = pl.Float64
# whole numbers are read as their text: polars' JSON reader would cut 12.7 to 12 and turn a
# number beyond 64 bits into null without a word; load.normalize checks and types them
_WHOLE = pl.String

_PERSON = pl.Struct({"id": _ID, "name": pl.String})
_ASSIGNEE = pl.Struct({"id": _ID})

RAW_ROOM = pl.Struct(
    {
        "handled_time": _SECONDS,
        "holding_time": _SECONDS,
        "first_response_time": _SECONDS,
        "is_bot_room": pl.Boolean,
        "is_ai_agent_room": pl.Boolean,
        "csat_status": pl.String,
        "channel": pl.Struct({"name": pl.String, "type": pl.String}),
    }
)

RAW_WRAP_UP_FORM = pl.Struct(
    {
        "disposition": pl.String,
        "categories": pl.List(
            pl.Struct({"id": _ID, "value": pl.String, "parentId": _ID, "level": _WHOLE})
        ),
        "tags": pl.List(pl.Struct({"id": _ID, "name": pl.String})),
        "customFields": pl.List(
            pl.Struct(
                {
                    "id": _ID,
                    "textValue": pl.String,
                    "attribute": pl.Struct(
                        {
                            "displayName": pl.String,
                            "systemName": pl.String,
                            "type": pl.String,
                        }
                    ),
                }
            )
        ),
    }
)

RAW_HOLD_LOG = pl.Struct(
    {
        "id": _ID,
        "started_at": _TS,
        "ended_at": _TS,
        "duration": _SECONDS,
        "hold_label_id": _ID,
    }
)

#: One CX-log record as the API sends it (only the fields cxreports reads).
RAW_RECORD = pl.Schema(
    {
        "id": _ID,
        "caseId": _WHOLE,
        "contactId": _ID,
        "channel": pl.String,
        "channelType": pl.String,
        "queueId": _ID,
        "queueName": pl.String,
        "agentId": _ID,
        "direction": pl.String,
        "startedDate": _TS,
        "closedAt": _TS,
        "createdAt": _TS,
        "updatedAt": _TS,
        "deletedAt": _TS,
        "handledTime": _SECONDS,
        "fullHandledTime": _SECONDS,
        "totalHoldDuration": _SECONDS,
        "firstResponseTime": _SECONDS,
        "wrapUpDuration": _SECONDS,
        "resolutionTime": _SECONDS,
        "fullResolutionTime": _SECONDS,
        "disposition": pl.String,
        "slaStatus": pl.String,
        "firstAssigneeId": _ID,
        "closedAssigneeId": _ID,
        "contactLabel": pl.List(pl.String),
        "agent": _PERSON,
        "firstAssignee": _ASSIGNEE,
        "closedAssignee": _ASSIGNEE,
        "room": RAW_ROOM,
        "wrapUpForm": RAW_WRAP_UP_FORM,
        "holdLogs": pl.List(RAW_HOLD_LOG),
    }
)

#: Timestamp fields of a raw record, parsed to UTC datetimes by the loader.
RAW_TIMESTAMPS = ("startedDate", "closedAt", "createdAt", "updatedAt", "deletedAt")

#: Whole-number fields of a raw record (read as text, see ``_WHOLE``), as dotted paths; ``[]``
#: stands for every element of a list.
RAW_WHOLE_NUMBERS = ("caseId", "wrapUpForm.categories[].level")

#: Seconds in a day, for the duration limits below.
DAY_S = 86_400.0

#: Every duration field of a raw record, in seconds, as a dotted path, with the largest value
#: accepted. Negative values and values above the limit are rejected: a handle, hold, wrap-up
#: or response time beyond 30 days is a unit or clock error, not a conversation; resolution
#: times may span weeks (an e-mail case), so they may reach a year.
RAW_DURATIONS: dict[str, float] = {
    "handledTime": 30 * DAY_S,
    "fullHandledTime": 30 * DAY_S,
    "totalHoldDuration": 30 * DAY_S,
    "firstResponseTime": 30 * DAY_S,
    "wrapUpDuration": 30 * DAY_S,
    "resolutionTime": 366 * DAY_S,
    "fullResolutionTime": 366 * DAY_S,
    "room.handled_time": 30 * DAY_S,
    "room.holding_time": 30 * DAY_S,
    "room.first_response_time": 30 * DAY_S,
    "holdLogs[].duration": 30 * DAY_S,
}

#: Timestamps outside ``[first, last)`` (UTC years) are rejected: year 1 or 9999 is a default
#: or a sentinel value, never an interaction.
TIMESTAMP_YEARS = (2000, 2100)

UTC = pl.Datetime("us", "UTC")

#: One row per unique interaction: the latest version of each ``id``.
INTERACTIONS = pl.Schema(
    {
        "id": pl.String,
        "case_id": pl.Int64,
        "agent_id": pl.String,
        "agent_name": pl.String,
        "first_assignee_id": pl.String,
        "closed_assignee_id": pl.String,
        "queue_id": pl.String,
        "queue_name": pl.String,
        "channel": pl.String,
        "channel_name": pl.String,
        "direction": pl.String,
        "contact_id": pl.String,
        "started_at": UTC,
        "closed_at": UTC,
        "created_at": UTC,
        "updated_at": UTC,
        "deleted_at": UTC,
        "handled_time_s": pl.Float64,
        "full_handled_time_s": pl.Float64,
        "hold_time_s": pl.Float64,
        "hold_count": pl.UInt32,
        "wrap_up_time_s": pl.Float64,
        "first_response_time_s": pl.Float64,
        "resolution_time_s": pl.Float64,
        "full_resolution_time_s": pl.Float64,
        "disposition": pl.String,
        "sla_status": pl.String,
        "csat_status": pl.String,
        "csat_score": pl.Int8,
        "is_bot": pl.Boolean,
        "is_ai_agent": pl.Boolean,
        "partition_key": pl.String,
        "source_file": pl.String,
        "source_position": pl.Int64,
    }
)

#: One row per hold log of a loaded interaction.
HOLDS = pl.Schema(
    {
        "id": pl.String,
        "hold_id": pl.String,
        "started_at": UTC,
        "ended_at": UTC,
        "duration_s": pl.Float64,
        "hold_label_id": pl.String,
    }
)

#: One row per contact label (``contactLabel``) of a loaded interaction.
LABELS = pl.Schema({"id": pl.String, "label": pl.String})

#: One row per wrap-up category; ``parent_id`` links level-2 categories to level 1.
WRAP_UP_CATEGORIES = pl.Schema(
    {
        "id": pl.String,
        "category_id": pl.String,
        "value": pl.String,
        "parent_id": pl.String,
        "level": pl.Int64,
    }
)

#: One row per wrap-up tag.
WRAP_UP_TAGS = pl.Schema({"id": pl.String, "tag_id": pl.String, "name": pl.String})

#: One row per wrap-up custom field, its value kept as text.
CUSTOM_FIELDS = pl.Schema(
    {
        "id": pl.String,
        "field_id": pl.String,
        "system_name": pl.String,
        "display_name": pl.String,
        "type": pl.String,
        "value": pl.String,
    }
)

#: One row per record (or unreadable file) that could not be loaded, and why.
QUARANTINE = pl.Schema(
    {
        "source_file": pl.String,
        "position": pl.Int64,
        "record_id": pl.String,
        "reason": pl.String,
    }
)

TABLES: dict[str, pl.Schema] = {
    "interactions": INTERACTIONS,
    "holds": HOLDS,
    "labels": LABELS,
    "wrap_up_categories": WRAP_UP_CATEGORIES,
    "wrap_up_tags": WRAP_UP_TAGS,
    "custom_fields": CUSTOM_FIELDS,
    "quarantine": QUARANTINE,
}

#: Tables keyed by interaction ``id`` that follow the winning version of each interaction.
CHILD_TABLES = ("holds", "labels", "wrap_up_categories", "wrap_up_tags", "custom_fields")

DEFAULT_CSAT_SCORE_FIELD = "room.csat_score"


def record_schema(csat_score_field: str = DEFAULT_CSAT_SCORE_FIELD) -> pl.Schema:
    """The raw record schema with the tenant's CSAT score field added at its dotted path.

    Examples
    --------
    >>> record_schema("room.csat_score")["room"].to_schema()["csat_score"]
    Float64
    """
    parts = csat_score_field.split(".")
    if not all(parts):
        raise ParameterError(
            f"csat_score_field must be a dotted path such as 'room.csat_score', "
            f"got {csat_score_field!r}"
        )
    return pl.Schema(_insert(dict(RAW_RECORD), parts, pl.Float64))


def _insert(fields: dict[str, pl.DataType], path: list[str], dtype: pl.DataType) -> dict:
    head, rest = path[0], path[1:]
    out = dict(fields)
    if not rest:
        out[head] = dtype
        return out
    current = out.get(head)
    if current is None:
        inner: dict[str, pl.DataType] = {}
    elif isinstance(current, pl.Struct):
        inner = dict(current.to_schema())
    else:
        raise ParameterError(
            f"csat_score_field path {'.'.join(path)!r} goes through {head!r}, which is a "
            f"{current} field, not an object"
        )
    out[head] = pl.Struct(_insert(inner, rest, dtype))
    return out


def csat_expr(csat_score_field: str = DEFAULT_CSAT_SCORE_FIELD) -> pl.Expr:
    """The expression that reads the CSAT score field out of a raw record frame."""
    head, *rest = csat_score_field.split(".")
    expr = pl.col(head)
    for part in rest:
        expr = expr.struct.field(part)
    return expr


def empty(schema: pl.Schema) -> pl.DataFrame:
    """An empty frame with ``schema``, for empty weeks and empty sources."""
    return pl.DataFrame(schema=schema)


#: Bidirectional classes that reorder the text around a name: right-to-left letters, Arabic
#: digits, and the explicit embeddings, overrides and isolates.
_BIDI = frozenset({"R", "AL", "AN", "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})


def isolated(name: str) -> str:
    """A name from the data as running text holds it: as :func:`tame` shows it, and in a
    Unicode isolate (U+2068 ... U+2069) when it is written right to left, so that it cannot reorder
    the words, numbers and punctuation around it (a Hebrew queue name moved the figures of
    the sentence that named it, an unclosed override reversed the rest); as it is otherwise.

    Examples
    --------
    >>> isolated("Billing")
    'Billing'
    >>> isolated("תמיכה") == "\u2068תמיכה\u2069"
    True
    """
    name = tame(name)  # (a name given by a filter is shown as the data's are)
    if any(unicodedata.bidirectional(c) in _BIDI for c in name):
        return f"\u2068{name}\u2069"
    return name


#: The most combining marks (accents, vowel signs) a letter keeps in reports: every script's
#: names need at most three (a Vietnamese letter two, Thai and Hebrew three); "Zalgo" text
#: stacks dozens, which reach into the rows above and below.
MARKS_KEPT = 3
_PILED = rf"(\p{{M}}{{{MARKS_KEPT}}})\p{{M}}+"
#: Characters a name never shows: control characters, and the bidirectional embeddings,
#: overrides and isolates that would turn the text after them around ("Trojan Source"):
#: reports isolate each name themselves (:func:`isolated`).
_UNSHOWN = r"[\x00-\x1F\x7F-\x9F\x{202A}-\x{202E}\x{2066}-\x{2069}]"
_UNSHOWN_CHARS = frozenset(
    map(chr, [*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
)


def tamed(text: pl.Expr) -> pl.Expr:
    """A text column as reports show it: a letter's combining marks beyond
    :data:`MARKS_KEPT` left out, and the characters that are not to be shown
    (see :func:`tame`)."""
    return text.str.replace_all(_PILED, "${1}").str.replace_all(_UNSHOWN, "")


def tamed_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text column :func:`tamed`."""
    return frame.with_columns(tamed(pl.col(pl.String))) if pl.String in frame.dtypes else frame


def tame(text: str) -> str:
    """A name from the data as reports show it: at most :data:`MARKS_KEPT` combining marks on
    a letter, so that stacked marks stay on their own line, and without control characters or
    the bidirectional overrides that would show it reversed.

    Examples
    --------
    >>> tame("Zoe\u0308") == "Zoe\u0308"
    True
    >>> len(tame("Z" + "\u0301" * 40))
    4
    >>> tame("Mei\u202eexe.txt\x1b"), tame("Ann\x07Lee")
    ('Meiexe.txt', 'AnnLee')
    """
    if (text.isascii() and text.isprintable()) or _plain(text):
        return text
    # the tables' own rule (polars' Unicode tables, not Python's): a name looked up in a table
    # (a target's queue, a scorecard's team) is found by the text this gives
    return pl.select(tamed(pl.lit(text, dtype=pl.String))).item()


def _plain(text: str) -> bool:
    """Whether ``text`` has nothing :func:`tame` would take out, by a margin (no two marks in a
    row, no character it leaves out), so that polars' Unicode tables, a version apart from
    Python's, agree: most names from the data, at a hundredth of a polars call."""
    marked = False
    for c in text:
        if c in _UNSHOWN_CHARS:
            return False
        mark = unicodedata.category(c).startswith("M")
        if mark and marked:
            return False
        marked = mark
    return True


def agent_label() -> pl.Expr:
    """How an agent is named in reports: the name, else the id, else ``(unassigned)``; a
    name of only spaces counts as none."""
    name = pl.col("agent_name")
    named = pl.when(name.str.strip_chars() != "").then(name)
    return named.otherwise(pl.col("agent_id")).fill_null("(unassigned)")


def agent_labels() -> pl.Expr:
    """:func:`agent_label`, followed by the agent's id where another agent of the frame has
    the same label, so that no chart, table or sentence shows two agents as one (a frame of
    one row per agent, or of interactions).

    Examples
    --------
    >>> agents = pl.DataFrame({"agent_id": ["a1", "a2", "a3"], "agent_name": ["Mei", "Mei", " "]})
    >>> agents.select(agent_labels())["agent_name"].to_list()
    ['Mei (a1)', 'Mei (a2)', 'a3']
    """
    label, agent = agent_label(), pl.col("agent_id")
    shared = (agent.n_unique().over(label) > 1) & agent.is_not_null()
    return pl.when(shared).then(pl.format("{} ({})", label, agent)).otherwise(label)
