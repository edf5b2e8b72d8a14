"""Business hours: opening hours per weekday, public holidays, optionally one calendar per queue.

In the weekly config (times are local to the report's time zone; a day not named is closed)::

    [business_hours]
    mon-fri = "08:30-12:30, 13:30-18:00"   # a day or a range of days; several intervals a day
    sat = "10:00-14:00"
    holidays = ["2026-12-25", "2026-12-26"]
    frt_clock = "business"                 # frt_target_s on business time (default: calendar)

    [business_hours.queues."Priority Support"]   # a queue with its own hours
    mon-sun = "00:00-24:00"                      # (holidays: the default's unless given)

:meth:`Calendar.open_spans` turns a calendar into the UTC instants its hours cover, daylight
saving included; :func:`cxreports.metrics.business_time.add_columns` measures first response
and resolution against them with vectorised expressions. Everything is checked when read, every
problem at once, each in one line.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import polars as pl

from cxreports.exceptions import ParameterError

#: Weekdays as the config names them, Monday first.
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: Which clock ``frt_target_s`` (the first-response proxy) is measured on.
Clock = Literal["calendar", "business"]
CLOCKS = ("calendar", "business")

_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_MAX_QUEUES = 200
_MAX_HOLIDAYS = 1_000

#: One open interval of a day: seconds from local midnight, start inclusive, end exclusive
#: (``24:00`` is 86,400).
Interval = tuple[int, int]


@dataclass(frozen=True)
class Calendar:
    """Opening hours: the intervals of each weekday (Monday first) and the closed dates."""

    days: tuple[tuple[Interval, ...], ...]
    holidays: tuple[date, ...] = ()

    def text(self) -> str:
        """The hours as a reader reads them: ``Mon–Fri 09:00–17:00; Sat 10:00–14:00``."""
        parts: list[str] = []
        i = 0
        while i < 7:
            j = i
            while j + 1 < 7 and self.days[j + 1] == self.days[i]:
                j += 1
            if self.days[i]:
                names = DAYS[i].title() + (f"–{DAYS[j].title()}" if j > i else "")
                hours = ", ".join(f"{_clock(a)}–{_clock(b)}" for a, b in self.days[i])
                parts.append(f"{names} {hours}")
            i = j + 1
        return "; ".join(parts)

    def open_spans(self, tz: str, first: date, last: date) -> pl.DataFrame:
        """The open intervals of the local days ``first`` to ``last``, in UTC, sorted.

        Columns ``start`` and ``end`` (microseconds since the epoch, UTC) and ``before``
        (open microseconds of all earlier intervals). Local times become instants in ``tz``:
        a day with a daylight-saving change is 23 or 25 hours long, a time the change skips
        is read with the offset before it, and a time it repeats is its first occurrence.

        Examples
        --------
        >>> cal = parse_calendar({"mon-sun": "00:00-24:00"}, "x")
        >>> spans = cal.open_spans("Europe/Berlin", date(2026, 3, 29), date(2026, 3, 29))
        >>> (spans["end"] - spans["start"]).item() / 3.6e9  # the spring change: 23 hours
        23.0
        """
        zone = ZoneInfo(tz)
        closed = set(self.holidays)
        starts: list[int] = []
        ends: list[int] = []
        day = first
        while day <= last:
            if day not in closed:
                midnight = datetime.combine(day, time(0), tzinfo=zone)
                for a, b in self.days[day.weekday()]:
                    # aware + timedelta is wall-clock arithmetic; astimezone finds the instant
                    s, e = (_micros(midnight + timedelta(seconds=x)) for x in (a, b))
                    if starts and s < ends[-1]:
                        s = ends[-1]  # a repeated hour may bring an interval back: never twice
                    if e > s:
                        starts.append(s)
                        ends.append(e)
            day += timedelta(days=1)
        frame = pl.DataFrame(
            {"start": starts, "end": ends}, schema={"start": pl.Int64, "end": pl.Int64}
        )
        return frame.with_columns(
            before=(pl.col("end") - pl.col("start")).cum_sum().shift(1, fill_value=0)
        )


@dataclass(frozen=True)
class BusinessHours:
    """The default calendar, the queues with their own, and the first-response proxy's clock."""

    default: Calendar
    queues: tuple[tuple[str, Calendar], ...] = ()
    frt_clock: Clock = "calendar"

    def calendar(self, queue: str | None) -> Calendar:
        """The calendar of ``queue`` (the default one unless it has its own)."""
        return dict(self.queues).get(queue, self.default)  # type: ignore[arg-type]

    def text(self, tz: str) -> str:
        """One line for a report's footer: the hours, holidays, queues with their own hours.

        Examples
        --------
        >>> from_config({"mon-fri": "09:00-17:00", "holidays": ["2026-12-25"]}).text("UTC")
        'Mon–Fri 09:00–17:00 (UTC); 1 holiday; first-response target on calendar time'
        """
        parts = [f"{self.default.text()} ({tz})"]
        if n := len(self.default.holidays):
            parts.append(f"{n} holiday{'s' if n > 1 else ''}")
        if self.queues:
            parts.append("own hours: " + ", ".join(name for name, _ in self.queues))
        parts.append(f"first-response target on {self.frt_clock} time")
        return "; ".join(parts)

    def as_parameters(self) -> dict[str, Any]:
        """The hours as a notebook parameter (plain JSON, the config's own form)."""
        out: dict[str, Any] = _calendar_parameters(self.default)
        out["frt_clock"] = self.frt_clock
        if self.queues:
            out["queues"] = {name: _calendar_parameters(cal) for name, cal in self.queues}
        return out


def from_config(raw: object, where: str = "[business_hours]") -> BusinessHours:
    """Business hours from the config table (or a notebook parameter of the same form).

    Raises :class:`ParameterError` naming ``where`` and every problem found.

    Examples
    --------
    >>> hours = from_config({"mon-fri": "09:00-12:00, 13:00-17:00", "holidays": ["2026-12-25"]})
    >>> hours.default.text(), hours.default.holidays
    ('Mon–Fri 09:00–12:00, 13:00–17:00', (datetime.date(2026, 12, 25),))
    """
    if isinstance(raw, BusinessHours):
        return raw
    if not isinstance(raw, Mapping):
        raise ParameterError(f"{where} must be a table of weekdays and hours (see docs/metrics.md)")
    problems: list[str] = []
    body = {k: v for k, v in raw.items() if k not in ("queues", "frt_clock")}
    default = _calendar(body, where, problems, holidays=())
    clock = raw.get("frt_clock", "calendar")
    if clock not in CLOCKS:
        problems.append(f"{where} frt_clock must be 'calendar' or 'business'")
    queues: list[tuple[str, Calendar]] = []
    tables = raw.get("queues", {})
    if not isinstance(tables, Mapping):
        problems.append(f'{where} queues must be tables: [business_hours.queues."Queue name"]')
        tables = {}
    if len(tables) > _MAX_QUEUES:
        problems.append(f"{where}: at most {_MAX_QUEUES} queues with their own hours")
        tables = {}
    for name, table in tables.items():
        label = f'{where.rstrip("]")}.queues."{name}"]'
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            problems.append(f"{where} queues: a queue name must be non-empty text")
        elif not isinstance(table, Mapping):
            problems.append(f"{label} must be a table of weekdays and hours")
        elif default is not None and (cal := _calendar(table, label, problems, default.holidays)):
            queues.append((name, cal))
    if problems or default is None:
        raise ParameterError("; ".join(problems))
    return BusinessHours(default, tuple(queues), clock)


def read(path: str | Path) -> BusinessHours:
    """Business hours from a TOML file: a ``[business_hours]`` table (the weekly config itself
    will do) or the same keys at the top level.

    Examples
    --------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "hours.toml")
    >>> _ = open(f, "w").write('mon-fri = "09:00-17:00"\\n')
    >>> read(f).default.text()
    'Mon–Fri 09:00–17:00'
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise ParameterError(f"{path}: no such business-hours file (TOML)") from None
    except IsADirectoryError:
        raise ParameterError(f"{path}: is a folder; the business hours are a TOML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: cannot read the business hours ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{path}: not valid TOML ({exc})") from None
    if "business_hours" not in data and {"source", "report", "smtp", "groups"} & set(data):
        # a weekly config without them: one line, not a complaint about each of its tables
        raise ParameterError(f"{path}: a weekly config with no [business_hours] table")
    table = data.get("business_hours", data)
    return from_config(table, f"{path} [business_hours]" if table is not data else str(path))


def parse_calendar(raw: Mapping[str, object], where: str) -> Calendar:
    """One calendar (weekdays or day ranges to hours, and ``holidays``); see :func:`from_config`."""
    problems: list[str] = []
    cal = _calendar(raw, where, problems, holidays=())
    if problems or cal is None:
        raise ParameterError("; ".join(problems))
    return cal


def _calendar(
    raw: Mapping[str, object], where: str, problems: list[str], holidays: tuple[date, ...]
) -> Calendar | None:
    before = len(problems)
    days: list[tuple[Interval, ...] | None] = [None] * 7
    for key, value in raw.items():
        if key == "holidays":
            holidays = _holidays(value, where, problems)
            continue
        span = _day_span(key)
        if span is None:
            problems.append(
                f"{where}: unknown key {key!r}; expected a weekday ({', '.join(DAYS)}), a range "
                "such as mon-fri, holidays, or (at the top) frt_clock and queues"
            )
            continue
        intervals = _intervals(value, f"{where} {key}", problems)
        for i in span:
            if days[i] is not None:
                problems.append(f"{where}: {DAYS[i]} is given twice ({key} and another key)")
            days[i] = intervals
    if len(problems) > before:
        return None
    week = tuple(d or () for d in days)
    if not any(week):
        problems.append(f"{where}: no opening hours on any day; name at least one day's hours")
        return None
    return Calendar(week, holidays)


def _day_span(key: object) -> range | None:
    if not isinstance(key, str):
        return None
    first, _, last = key.lower().partition("-")
    if first not in DAYS or (last and last not in DAYS):
        return None
    a, b = DAYS.index(first), DAYS.index(last or first)
    return range(a, b + 1) if a <= b else None


def _intervals(value: object, where: str, problems: list[str]) -> tuple[Interval, ...]:
    """``"09:00-12:00, 13:00-17:00"`` (or a list of such texts, or ``"closed"``) as intervals."""
    texts: Sequence[object]
    if isinstance(value, str):
        texts = [] if value.strip().lower() == "closed" else value.split(",")
    elif isinstance(value, list):
        texts = value
    else:
        problems.append(f'{where} must be text such as "09:00-17:00" or "closed"')
        return ()
    out: list[Interval] = []
    for text in texts:
        pieces = text.strip().split("-") if isinstance(text, str) else []
        times = [_seconds(p.strip()) for p in pieces]
        if len(times) != 2 or None in times:
            problems.append(
                f"{where}: {str(text).strip()[:20]!r} is not HH:MM-HH:MM (24-hour local times, "
                "e.g. 09:00-17:30; 24:00 ends a day)"
            )
            continue
        a, b = times
        if a >= b or a == 86_400:  # type: ignore[operator]
            problems.append(f"{where}: {text.strip()!r} must end after it starts, on the same day")
            continue
        out.append((a, b))  # type: ignore[arg-type]
    out.sort()
    merged: list[Interval] = []
    for a, b in out:
        if merged and a < merged[-1][1]:
            problems.append(f"{where}: the intervals overlap ({_clock(a)} is already open)")
            return ()
        if merged and a == merged[-1][1]:
            merged[-1] = (merged[-1][0], b)  # touching intervals are one
        else:
            merged.append((a, b))
    return tuple(merged)


def _seconds(text: str) -> int | None:
    match = _TIME.match(text)
    if not match:
        return None
    hours, minutes = int(match[1]), int(match[2])
    if hours == 24 and minutes:
        return None
    return hours * 3600 + minutes * 60


def _holidays(value: object, where: str, problems: list[str]) -> tuple[date, ...]:
    if not isinstance(value, list):
        problems.append(f'{where} holidays must be a list of dates, e.g. ["2026-12-25"]')
        return ()
    if len(value) > _MAX_HOLIDAYS:
        problems.append(f"{where} holidays: at most {_MAX_HOLIDAYS:,} dates")
        return ()
    days: set[date] = set()
    for item in value:
        if isinstance(item, date) and not isinstance(item, datetime):
            days.add(item)
            continue
        if isinstance(item, str) and len(item) == 10:
            try:
                days.add(date.fromisoformat(item))
                continue
            except ValueError:
                pass
        problems.append(f"{where} holidays: {str(item)[:20]!r} is not a date (YYYY-MM-DD)")
    return tuple(sorted(days))


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return delta // timedelta(microseconds=1)


def _calendar_parameters(cal: Calendar) -> dict[str, Any]:
    out: dict[str, Any] = {
        day: ", ".join(f"{_clock(a)}-{_clock(b)}" for a, b in hours) or "closed"
        for day, hours in zip(DAYS, cal.days, strict=True)
    }
    if cal.holidays:
        out["holidays"] = [d.isoformat() for d in cal.holidays]
    return out
