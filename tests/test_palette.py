"""Colour: one colour-blind-safe palette, text at 4.5:1 and chart marks at 3:1 (WCAG 1.4.3, 1.4.11).

The checks read the colours where they are used: the report stylesheet, the CSS and inline
styles that ``tables`` writes, and the chart specs, so a colour added anywhere is checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from cxreports import charts, palette, tables, weekly

from .metrics_fixtures import make_logs, utc

CSS = Path(charts.__file__).parent / "templates" / "cxreport" / "static" / "cxreport.css"
TEXT_MIN, MARK_MIN = 4.5, 3.0
#: Backgrounds text may sit on when its own rule sets none: the page and the card surface.
PAGE_BACKGROUNDS = (palette.BACKGROUND, palette.SURFACE)
_HEX = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")


@pytest.mark.parametrize(
    "colour", [palette.TEXT, palette.MUTED, palette.GOOD_TEXT, palette.BAD_TEXT]
)
@pytest.mark.parametrize(
    "background",
    [
        palette.BACKGROUND,
        palette.SURFACE,
        palette.GOOD_TINT,
        palette.BAD_TINT,
        palette.NOTE_TINT,
    ],
)
def test_text_colours_reach_4_5_to_1_on_every_surface(colour, background):
    assert palette.contrast(colour, background) >= TEXT_MIN


@pytest.mark.parametrize(
    "colour",
    [
        palette.GOOD,
        palette.BAD,
        palette.PRIMARY,
        palette.NEUTRAL,
        *palette.CATEGORICAL,
        *palette.RATINGS,
    ],
)
def test_mark_colours_reach_3_to_1_on_white(colour):
    assert palette.contrast(colour, palette.BACKGROUND) >= MARK_MIN


@pytest.mark.parametrize("fill", palette.SEQUENTIAL)
def test_heatmap_counts_are_readable_on_every_step(fill):
    assert palette.contrast(palette.text_on(fill), fill) >= TEXT_MIN


def test_good_and_bad_are_blue_and_vermillion_not_green_and_red():
    def hue(colour: str) -> float:
        r, g, b = (int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
        high, low = max(r, g, b), min(r, g, b)
        if high == low:
            return 0.0
        if high == r:
            return (60 * (g - b) / (high - low)) % 360
        if high == g:
            return 60 * (b - r) / (high - low) + 120
        return 60 * (r - g) / (high - low) + 240

    for colour in (palette.GOOD, palette.GOOD_TEXT):
        assert 190 <= hue(colour) <= 215, colour  # blue
    for colour in (palette.BAD, palette.BAD_TEXT):
        assert 20 <= hue(colour) <= 30, colour  # vermillion (orange-red), not pure red


# --- CSS ------------------------------------------------------------------------------------


def _declarations(css: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(selector, {property: value}) of every rule in ``css``, @media blocks included."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    for selector, body in re.findall(r"([^{};]+)\{([^{}]*)\}", css):
        decls = {}
        for part in body.split(";"):
            if ":" in part:
                name, value = part.split(":", 1)
                decls[name.strip().lower()] = value.strip()
        yield selector.strip(), decls


def _resolve(value: str, variables: dict[str, str]) -> str | None:
    value = re.sub(r"var\((--[\w-]+)\)", lambda m: variables.get(m.group(1), ""), value)
    found = _HEX.search(value)
    return found.group(0) if found else None


def _text_pairs(css: str) -> list[tuple[str, str, str]]:
    """(selector, text colour, background) of every rule that sets a text colour."""
    rules = list(_declarations(css))
    variables = {k: v for _, decls in rules for k, v in decls.items() if k.startswith("--")}
    pairs = []
    for selector, decls in rules:
        colour = _resolve(decls.get("color", ""), variables)
        if colour is None:
            continue
        background = _resolve(decls.get("background-color", decls.get("background", "")), variables)
        for bg in [background] if background else PAGE_BACKGROUNDS:
            pairs.append((selector, colour, bg))
    return pairs


def _report_css() -> str:
    m = weekly(make_logs([{"agent_id": "A", "started_at": utc(2026, 3, 24, 9)}]), "2026-W13", "UTC")
    return "\n".join(
        [
            CSS.read_text(),
            tables.kpi_cards(m.kpis),
            tables.data_quality(m),
            tables.header(m, "Report"),
        ]
    )


def test_every_text_colour_in_the_report_css_reaches_4_5_to_1():
    # the parser must see the colours it checks: a rule it cannot read would pass unseen
    pairs = _text_pairs(_report_css())
    checked = {selector for selector, _, _ in pairs}
    assert {".cx-prev", ".cx-good", ".cx-bad", ".cx-ci", "body"} <= checked
    weak = [(s, c, bg, round(palette.contrast(c, bg), 2)) for s, c, bg in pairs]
    assert [w for w in weak if w[3] < TEXT_MIN] == []


def test_the_css_check_catches_a_pale_colour():
    assert _text_pairs(".x{color:#94a3b8}") and all(
        palette.contrast(c, bg) < TEXT_MIN for _, c, bg in _text_pairs(".x{color:#94a3b8}")
    )


def _inline_pairs(markup: str) -> list[tuple[str, str]]:
    """(text colour, background) of every inline ``style`` that sets a text colour."""
    pairs = []
    for style in re.findall(r'style="([^"]*)"', markup):
        decls = dict(_declarations("x{" + style + "}"))["x"]
        colour = _resolve(decls.get("color", ""), {})
        if colour is None:
            continue
        background = _resolve(decls.get("background-color", ""), {})
        pairs += [(colour, bg) for bg in ([background] if background else [palette.BACKGROUND])]
    return pairs


@pytest.fixture(scope="module")
def team():
    rows = [
        {
            "agent_id": f"A{i}",
            "agent_name": f"Agent {i}",
            "started_at": utc(2026, 3, 24, 9, j),
            "disposition": "Resolved" if (i + j) % (i + 2) else "Escalated",
            "sla_status": "meet" if j % (i + 2) else "breach",
            "csat_status": "completed",
            "csat_score": 1 + (i * j) % 5,
        }
        for i in range(6)
        for j in range(5 + 5 * i)
    ]
    return weekly(make_logs(rows), "2026-W13", "UTC", min_volume=10)


def test_every_inline_text_colour_in_the_tables_reaches_4_5_to_1(team):
    markup = "".join(
        [
            tables.agent_table(team).as_raw_html(),
            tables.csat_agents(team).as_raw_html(),
            tables.rate_table(team.queues, "queue_name", "Queue").as_raw_html(),
        ]
    )
    pairs = _inline_pairs(markup)
    # tinted rate cells and muted rows of agents below the minimum volume are both there
    assert any(bg != palette.BACKGROUND for _, bg in pairs)
    assert (palette.MUTED, palette.BACKGROUND) in pairs
    assert [(c, bg) for c, bg in pairs if palette.contrast(c, bg) < TEXT_MIN] == []


def test_kpi_changes_say_better_or_worse_in_words_not_only_in_colour(team):
    cards = tables.kpi_cards(team.kpis)
    coloured = re.findall(r'<span class="cx-delta (cx-good|cx-bad|cx-flat)">([^<]*)</span>', cards)
    assert coloured
    for kind, text in coloured:
        word = {"cx-good": "better", "cx-bad": "worse"}.get(kind)
        assert (word in text) if word else not re.search(r"better|worse", text), (kind, text)


# --- chart specs ----------------------------------------------------------------------------


def _chart_colours(spec: Any, mark: str | None = None) -> Iterator[tuple[str, str, str]]:
    """(mark type, property, colour) of every colour a chart spec sets, scale ranges included."""
    if isinstance(spec, dict):
        here = spec.get("mark")
        mark = (here.get("type") if isinstance(here, dict) else here) or mark
        for key, value in spec.items():
            if key in ("color", "fill", "stroke") and isinstance(value, str) and _HEX.match(value):
                yield mark or "", key, value
            elif key == "value" and isinstance(value, str) and _HEX.fullmatch(value):
                yield mark or "", "value", value
            elif key == "range" and isinstance(value, list):
                yield from ((mark or "", "range", v) for v in value if isinstance(v, str))
            elif key not in ("data", "datasets", "config"):
                yield from _chart_colours(value, mark)
    elif isinstance(spec, list):
        for item in spec:
            yield from _chart_colours(item, mark)


def _sample_charts(team) -> dict[str, Any]:
    return {
        "leaderboard": charts.leaderboard(team.agents, "handled", "Handled"),
        "distribution": charts.distribution(team.rows, "handled_time_s", "Handle time"),
        "target": charts.distribution(
            team.rows.with_columns(first_response_time_s=pl.lit(30.0)),
            "first_response_time_s",
            "First response time",
            threshold_s=60,
        ),
        "trend": charts.trend(team.trend, {**charts.AGENT_TRENDS, **charts.SLA_CSAT_TRENDS}),
        "heatmap": charts.heatmap(team.heatmap),
        "mix": charts.mix(team.dispositions, "disposition", "Dispositions"),
        "rate_by": charts.rate_by(
            team.queues, "queue_name", "sla_met_rate", "SLA met", count="sla_breaches"
        ),
        "worst_hours": charts.worst_hours(team.hourly),
        "ratings": charts.ratings(team.csat_ratings, None, "All"),
        "daily": charts.daily_volume(team.daily),
    }


def test_chart_marks_reach_3_to_1_and_chart_text_4_5_to_1(team):
    seen = 0
    for name, chart in _sample_charts(team).items():
        for mark, prop, colour in _chart_colours(chart.to_dict()):
            seen += 1
            if colour in palette.SEQUENTIAL or (prop == "stroke" and colour == palette.BACKGROUND):
                # heatmap shades print their count; outlines in the page colour separate marks
                continue
            need = TEXT_MIN if mark == "text" else MARK_MIN
            assert palette.contrast(colour, palette.BACKGROUND) >= need, (name, mark, colour)
    assert seen > 20


def test_chart_theme_text_is_dark_and_large_enough():
    config = charts.theme()["config"]
    for part in ("axis", "legend"):
        for key in ("labelColor", "titleColor"):
            assert palette.contrast(config[part][key]) >= TEXT_MIN
        assert config[part]["labelFontSize"] * 366 / charts.WIDTH >= 11
    assert palette.contrast(config["title"]["subtitleColor"]) >= TEXT_MIN
