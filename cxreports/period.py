"""Report weeks: ISO weeks (Monday 00:00 to the next Monday 00:00) in the report's time zone."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cxreports.exceptions import ParameterError

_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$")

#: The years a report week may fall in: the data are timestamps of the Unix era, and a week's
#: trend and comparison reach back 8 weeks before it (0001-W01 has none).
FIRST_YEAR, LAST_YEAR = 1970, 2999


def zone(tz: str) -> ZoneInfo:
    """The IANA time zone ``tz``, or a :class:`ParameterError` that says what is expected.

    A name must also be one polars knows, as the metrics convert times with it: the system's
    zoneinfo files hold names that are not zones of the IANA database (``localtime``,
    ``posixrules``, ``Factory``, ``right/UTC``), which Python reads and polars refuses.

    Examples
    --------
    >>> zone("localtime")
    Traceback (most recent call last):
    ...
    cxreports.exceptions.ParameterError: unknown time zone 'localtime': expected an IANA name \
such as 'UTC' or 'Asia/Singapore'
    """
    try:
        if not isinstance(tz, str) or not _polars_knows(tz):
            raise ValueError(tz)
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ParameterError(
            f"unknown time zone {tz!r}: expected an IANA name such as 'UTC' or 'Asia/Singapore'"
        ) from exc


@functools.cache
def _polars_knows(tz: str) -> bool:
    """Whether polars converts times to ``tz``, asked once per name."""
    import polars as pl

    try:
        pl.Series([0], dtype=pl.Datetime("us", "UTC")).dt.convert_time_zone(tz)
    except (pl.exceptions.PolarsError, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True, order=True)
class Week:
    """One ISO week in a time zone.

    Examples
    --------
    >>> w = Week.parse("2026-W13", "Asia/Singapore")
    >>> w.start_utc.isoformat(), w.end_utc.isoformat()
    ('2026-03-22T16:00:00+00:00', '2026-03-29T16:00:00+00:00')
    >>> w.previous().label
    '2026-W12'
    """

    year: int
    number: int
    tz: str = "UTC"

    @classmethod
    def parse(cls, text: str, tz: str = "UTC") -> Week:
        """Read ``2026-W13`` (or ``2026W13``); the week must exist in that ISO year."""
        zone(tz)
        match = _WEEK.match(str(text).strip())
        if not match:
            raise ParameterError(f"week must look like 2026-W13, got {text!r}")
        year, number = int(match[1]), int(match[2])
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ParameterError(
                f"week {text!r} is out of range: expected a week of the years {FIRST_YEAR} to "
                f"{LAST_YEAR}, such as 2026-W13"
            )
        try:
            date.fromisocalendar(year, number, 1)
        except ValueError as exc:
            raise ParameterError(
                f"week {text!r} does not exist: {year} has no ISO week {number}"
            ) from exc
        return cls(year, number, tz)

    @classmethod
    def containing(cls, day: date, tz: str = "UTC") -> Week:
        """The week that ``day`` (a local date) falls in."""
        iso = day.isocalendar()
        return cls(iso.year, iso.week, tz)

    @classmethod
    def last_complete(cls, tz: str = "UTC", now: datetime | None = None) -> Week:
        """The last week that has fully ended in ``tz`` at ``now`` (default: the clock)."""
        now = now or datetime.now(UTC)
        local_today = now.astimezone(zone(tz)).date()
        return cls.containing(local_today, tz).previous()

    @classmethod
    def resolve(cls, week: str | Week | None, tz: str = "UTC") -> Week:
        """A week from a string, a Week (re-zoned to ``tz``) or None (the last complete week).

        Empty text is an error, not the default: a week lost on the way (an empty variable in
        a script, ``--week ''``) must not quietly become another week.

        Examples
        --------
        >>> Week.resolve("")
        Traceback (most recent call last):
        ...
        cxreports.exceptions.ParameterError: week is empty: give an ISO week such as 2026-W13, \
or None (no --week) for the last complete week
        """
        if week is None:
            return cls.last_complete(tz)
        if isinstance(week, str) and not week.strip():
            raise ParameterError(
                "week is empty: give an ISO week such as 2026-W13, or None (no --week) for the "
                "last complete week"
            )
        if isinstance(week, Week):
            return cls(week.year, week.number, tz)
        return cls.parse(week, tz)

    def require_started(self, now: datetime | None = None) -> Week:
        """This week if it has begun in its time zone at ``now`` (default: the clock); else a
        :class:`ParameterError`, since a week still to come has no data (its report would be
        empty). The current week, not yet complete, is allowed.

        Examples
        --------
        >>> now = datetime(2026, 12, 4, tzinfo=UTC)
        >>> Week.parse("2026-W49").require_started(now).label
        '2026-W49'
        >>> Week.parse("2027-W05").require_started(now)
        Traceback (most recent call last):
        ...
        cxreports.exceptions.ParameterError: week 2027-W05 has not started yet: it starts on \
2027-02-01 in UTC, and the current week is 2026-W49; give a week that has begun, or no week \
for the last complete one
        """
        now = now or datetime.now(UTC)
        if self.start_utc <= now:
            return self
        current = Week.containing(now.astimezone(zone(self.tz)).date(), self.tz)
        raise ParameterError(
            f"week {self.label} has not started yet: it starts on {self.monday} in {self.tz}, "
            f"and the current week is {current.label}; give a week that has begun, or no week "
            "for the last complete one"
        )

    @property
    def monday(self) -> date:
        """The local date the week starts on."""
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def start_utc(self) -> datetime:
        """Monday 00:00 local time, as a UTC datetime."""
        local = datetime.combine(self.monday, datetime.min.time(), zone(self.tz))
        return local.astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        """The next Monday 00:00 local time, as a UTC datetime (exclusive)."""
        local = datetime.combine(
            self.monday + timedelta(weeks=1), datetime.min.time(), zone(self.tz)
        )
        return local.astimezone(UTC)

    @property
    def label(self) -> str:
        """``2026-W13``."""
        return f"{self.year}-W{self.number:02d}"

    @property
    def days(self) -> list[date]:
        """The seven local dates of the week."""
        return [self.monday + timedelta(days=i) for i in range(7)]

    def clock_changes(self) -> list[str]:
        """The week's changes of the clock (daylight saving time), each as a sentence for a
        chart with a row per local hour: the hour the clock goes back over counts more than an
        hour of contacts, and the hour it skips counts less.

        Examples
        --------
        >>> print(*Week.parse("2026-W44", "America/New_York").clock_changes())
        On Sun 01 Nov the clocks went back 1 hour at 02:00: that day's 01:00 row counts two hours.
        >>> print(*Week.parse("2026-W10", "America/New_York").clock_changes())
        On Sun 08 Mar the clocks went forward 1 hour at 02:00: that day's 02:00 row is empty.
        >>> Week.parse("2026-W13", "Asia/Singapore").clock_changes()
        []
        """
        tz = zone(self.tz)
        out = []
        start, end = self.start_utc, self.end_utc
        # offsets change on the quarter hour at most: one look a quarter hour finds each change
        steps = int((end - start) / timedelta(minutes=15))
        before = start.astimezone(tz).utcoffset()
        for i in range(1, steps + 1):
            instant = start + timedelta(minutes=15 * i)
            after = instant.astimezone(tz).utcoffset()
            if after == before or before is None or after is None:
                continue
            shift, before = after - before, after
            local = instant.astimezone(tz)
            amount, wall = _span(abs(shift)), (local - shift).strftime("%H:%M")
            if shift < timedelta(0):  # the wall times from the new one to the old happen twice
                row = local.strftime("%H:00")
                counts = "two hours" if -shift == timedelta(hours=1) else f"{amount} more"
                out.append(
                    f"On {local:%a %d %b} the clocks went back {amount} at {wall}: that day's "
                    f"{row} row counts {counts}."
                )
            else:  # the wall times from the old one to the new never happen
                row = (local - shift).strftime("%H:00")
                counts = "is empty" if shift == timedelta(hours=1) else f"counts {amount} less"
                out.append(
                    f"On {local:%a %d %b} the clocks went forward {amount} at {wall}: that "
                    f"day's {row} row {counts}."
                )
        return out

    def previous(self, n: int = 1) -> Week:
        """The week ``n`` weeks earlier, in the same time zone."""
        return Week.containing(self.monday - timedelta(weeks=n), self.tz)

    def __str__(self) -> str:
        return self.label


def _span(delta: timedelta) -> str:
    """``1 hour``, ``30 minutes``, ``2 hours``."""
    minutes = int(delta.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    if rest:
        parts.append(f"{rest} minutes")
    return " ".join(parts)
