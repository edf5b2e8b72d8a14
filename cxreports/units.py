"""How durations read in every report, table, chart and sentence: as clock times."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    """``754.0`` -> ``12:34``; an hour or more -> ``1:02:03``; None -> an em dash.

    Examples
    --------
    >>> duration(754.0), duration(3723), duration(None)
    ('12:34', '1:02:03', '—')
    """
    if seconds is None:
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
