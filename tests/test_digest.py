"""The email digest body: mail-app safe, honest about noise and sample sizes, and its text twin."""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from PIL import Image

from cxreports import charts, digest, palette, weekly
from cxreports.mail import build_message

from .metrics_fixtures import make_logs, utc

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _rows(
    agent: str, day: int, count: int, *, met: int | None = None, scores: int = 0, **values: Any
) -> list[dict[str, Any]]:
    """``count`` interactions of ``agent`` on March ``day`` 2026 (UTC): the first ``met`` meet
    their SLA and the rest breach it (no SLA verdict without ``met``); the first ``scores`` have
    CSAT 5."""
    return [
        {
            "agent_id": agent,
            "started_at": utc(2026, 3, day, 1, i % 60, i // 60),
            "sla_status": None if met is None else ("meet" if i < met else "breach"),
            "csat_status": "completed" if i < scores else "not_sent",
            "csat_score": 5 if i < scores else None,
            **values,
        }
        for i in range(count)
    ]


def _build(rows: list[dict[str, Any]], **params: Any) -> Any:
    return digest.build(weekly(make_logs(rows), "2026-W13", "UTC", **params))


@pytest.fixture(scope="module")
def metrics() -> Any:
    """A week (2026-W13, after W12) of two ranked agents and one below the minimum volume.

    SLA met goes from 19/20 to 18/20 (within noise); agent A has 7 CSAT answers, all 5; B's
    handle time is over 1.5x the team's and an hour long.
    """
    rows = _rows("A", 17, 20, met=19)  # W12
    rows += _rows("A", 24, 20, met=18, scores=7, handled_time_s=200.0)
    rows += _rows("B", 25, 20, handled_time_s=3723.0, agent_name="Bea <b>Long</b>")
    rows += _rows("C", 26, 3)
    return weekly(make_logs(rows), "2026-W13", "UTC")


@pytest.fixture(scope="module")
def body(metrics) -> Any:
    return digest.build(metrics)


class _Tags(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.tags if tag == name]


def _row_with(html: str, text: str) -> str:
    """The innermost table row of ``html`` that contains ``text``."""
    [row] = [r for r in re.findall(r"<tr>(?:(?!<tr>).)*?</tr>", html, re.S) if text in r]
    return row


def test_body_is_made_for_mail_apps(body):
    html = body.html
    tags = _Tags(html)
    metas = {m.get("name"): m.get("content") for m in tags.all("meta") if m.get("name")}
    assert metas["viewport"] == "width=device-width, initial-scale=1"
    assert metas["color-scheme"] == "light only"
    assert metas["supported-color-schemes"] == "light"
    assert ":root { color-scheme: light only; supported-color-schemes: light; }" in html
    assert len(html.encode()) < 100_000
    assert not re.search(r"<svg|<script|data:", html, re.I)
    # Outlook for Windows lays out with Word: tables with width attributes, no flex or grid
    assert not re.search(r"display\s*:\s*(flex|grid)", html)
    layout = [t for t in tags.all("table") if t.get("role") == "presentation"]
    assert len(layout) == 2 and all(t.get("width") for t in tags.all("table"))
    assert '<!--[if mso]><table role="presentation"' in html and "max-width:600px" in html
    images = tags.all("img")
    assert sorted(i["src"] for i in images) == sorted(f"cid:{name}" for name in body.images)
    for image in images:
        assert re.search(r"\d", image["alt"]), image  # says the main figure, not just a title
        assert image["width"] == "600" and "width:100%" in image["style"]
    # the message built from it passes every check of the mail module
    message = build_message(body, sender="r@example.com", to=["a@example.com"])
    cids = {part["Content-ID"].strip("<>") for part in message.walk() if part["Content-ID"]}
    assert cids == set(re.findall(r"cid:(\w+)", html))


def test_charts_are_opaque_2x_pngs_whose_text_stays_legible_at_390_px(body):
    for name, png in body.images.items():
        image = Image.open(io.BytesIO(png))
        assert image.getextrema()[3] == (255, 255), f"{name} has transparent pixels"
        assert image.getpixel((0, 0)) == (255, 255, 255, 255)
        # shown 390 px wide, text drawn at CHART_FONT px must come out at 11 px or more
        css_width = image.width / digest.PNG_SCALE
        assert digest.CHART_FONT * 390 / css_width >= 11, (name, css_width)


def _settings(node: object, suffix: str) -> list[Any]:
    """Every value in a chart spec whose key ends with ``suffix``, rows of data left out."""
    if isinstance(node, dict):
        return [
            found
            for key, value in node.items()
            if key not in ("data", "datasets")
            for found in ([value] if key.lower().endswith(suffix) else _settings(value, suffix))
        ]
    if isinstance(node, list):
        return [found for item in node for found in _settings(item, suffix)]
    return []


def test_chart_spec_stacks_panels_and_sets_no_text_below_the_email_minimum(metrics):
    trend = digest.chart_spec(charts.trend(metrics.trend, charts.SLA_CSAT_TRENDS))
    spec = str(trend)
    assert "hconcat" not in spec
    assert trend["background"] == palette.BACKGROUND
    sizes = _settings(trend, "fontsize")
    assert sizes and min(sizes) >= digest.CHART_FONT
    colours = {c for c in _settings(trend, "color") if isinstance(c, str)}
    named = {v for k, v in vars(palette).items() if k.isupper() and isinstance(v, str)}
    assert colours and colours <= named, colours - named
    for part in ("axis", "legend", "title", "header", "text"):
        assert trend["config"][part].get("fontSize", trend["config"][part].get("labelFontSize"))
    assert re.findall(r"'width': (\d+)", spec) == [str(digest.CHART_PLOT_WIDTH)] * 4


@pytest.mark.parametrize(
    ("previous_met", "met", "verdict", "colour"),
    [
        (19, 18, "within noise", palette.MUTED),  # 95% -> 90%: 95% lies in 18/20's interval
        (20, 10, "worse", palette.BAD_TEXT),  # 100% -> 50%
        (10, 20, "better", palette.GOOD_TEXT),
    ],
)
def test_a_change_is_judged_only_beyond_noise(previous_met, met, verdict, colour):
    rows = _rows("A", 17, 20, met=previous_met) + _rows("A", 24, 20, met=met)
    body = _build(rows)
    row = _row_with(body.html, ">SLA met<div")
    assert "n=20 · 95% CI" in row
    assert f"{verdict}</b>" in row if verdict != "within noise" else "· within noise" in row
    assert f"color:{colour}" in row
    others = {palette.GOOD_TEXT, palette.BAD_TEXT} - {colour}
    assert not any(c in row for c in others)
    assert "Fewer than" not in body.html  # no rate rests on few cases, so no note on them
    [line] = [line for line in body.text.splitlines() if line.startswith("  SLA met:")]
    assert line.endswith(f", {verdict}") and "(n=20 · 95% CI" in line


def test_rates_carry_their_n_and_a_caveat_when_few(body):
    row = _row_with(body.html, ">Agent A<")
    assert re.search(r"100%<div[^>]*>n=7\*</div>", row)  # CSAT of 7 answers, marked few
    assert re.search(r"90%<div[^>]*>n=20</div>", row)  # SLA of 20 verdicts, not few
    assert "* Fewer than 20 cases" in body.html
    assert "CSAT 100% (n=7, few cases)" in body.text
    assert "SLA met 90% (n=20)," in body.text
    assert '"few cases": fewer than 20, a sample this small' in body.text


def test_flags_sit_beside_the_agents_name_and_durations_read_as_clock_times(body):
    # (the name is in what changed too: the week's one queue and channel explain nothing)
    row = _row_with(body.html, "Bea &lt;b&gt;Long&lt;/b&gt;<div")
    name_cell = row.split("</td>")[0]
    assert "Flag: AHT high" in name_cell
    assert ">1:02:03</td>" in row  # an hour or more as h:mm:ss
    assert ">3:20</td>" in _row_with(body.html, ">Agent A<")  # m:ss under an hour
    assert "<b>Long</b>" not in body.html
    kpi = _row_with(body.html, "Handle time (mean)")
    assert "median " in kpi
    assert "AHT mean" in body.html
    assert "Bea <b>Long</b>  FLAG: AHT high" in body.text
    # and the notes say what raised it: a mean over 1.5x the team's, not an interval "below"
    assert "AHT high or low, a mean handle time over 1.5x or under half the team's" in body.text


def test_text_twin_says_what_the_html_says(body):
    text = body.text
    for label in re.findall(r'<tr><td style="[^"]*padding-left:0">([^<]+)<div', body.html):
        assert f"  {label.replace('&amp;', '&')}: " in text
    for verdict in re.findall(r"· (?:<b[^>]*>)?(better|worse|within noise)", body.html):
        assert verdict in text
    assert "The 2 ranked agents (at least 20 handled). 1 more agent has fewer and is" in text
    for alt in re.findall(r'alt="([^"]+)"', body.html):
        assert f"  {alt}" in text
    # (the data ends on Thursday: the days after are no fewest)
    assert (
        "Mon 23 Mar to Sun 29 Mar: 43 in total, most on Tue 24 (20), no data after Thu 26, fewest "
        "on Mon 23 (0)"
    ) in text


@pytest.mark.parametrize(
    ("rows", "note", "daily_alt", "agents"),
    [
        (
            lambda: [],
            "No interactions were handled",
            "none this week",
            "No agent handled an interaction this week.",
        ),
        (
            lambda: _rows("A", 24, 3),
            "No customer answered a CSAT survey",
            "3 in total",
            "No agent is ranked this week: the only active agent handled fewer than 20.",
        ),
    ],
)
def test_an_empty_or_unrated_week_still_makes_a_complete_email(
    rows: Callable[[], list[dict[str, Any]]], note: str, daily_alt: str, agents: str
):
    body = _build(rows())
    assert note in body.html and note in body.text
    assert daily_alt in body.text
    assert agents in body.html and agents in body.text
    assert "0 of 0" not in body.text and "TOP AGENTS BY VOLUME\n" in body.text
    build_message(body, sender="r@example.com", to=["a@example.com"])


def test_the_daily_chart_names_each_day_of_the_week(metrics):
    # the email once relabelled the report's "Mon 23" as a date and drew "NaN" under every bar
    import re

    import vl_convert

    svg = vl_convert.vegalite_to_svg(digest._daily_spec(metrics))
    labels = re.findall(r">((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d)<", svg)
    assert labels == ["Mon 23", "Tue 24", "Wed 25", "Thu 26", "Fri 27", "Sat 28", "Sun 29"]
    assert "NaN" not in svg


def test_teams_targets_and_business_hours_reach_the_email(tmp_path, body):
    from cxreports.hours import from_config
    from cxreports.targets import by_group, parse
    from cxreports.teams import read

    rows = _rows("A", 24, 20, met=18, handled_time_s=200.0)  # 01:00 UTC, before opening
    rows += _rows("B", 25, 20, met=10, handled_time_s=900.0)
    rows += _rows("C", 26, 20, met=20, handled_time_s=300.0)
    mapping = tmp_path / "teams.csv"
    mapping.write_text("agent_id,team,lead\nA,North,Dana\nB,North,Dana\nC,South,Ola\n")
    m = weekly(
        make_logs(rows), "2026-W13", "UTC", min_volume=5, team_map=read(mapping),
        business_hours=from_config({"mon-fri": "09:00-17:00"}),
    )  # fmt: skip
    goals = [parse("sla_met_rate >= 0.8"), parse("aht_s <= 400")]
    teams = m.teams.join(by_group(goals, m.teams, "team"), on="team")
    agents = m.agents.join(by_group(goals, m.agents, "agent_id"), on="agent_id", how="left")
    email = digest.build(dataclasses.replace(m, teams=teams, agents=agents))
    # North: 28 of 40 met (70%), AHT (20 * 200 + 20 * 900) / 40 = 550 s; South: 100%, 300 s
    north = _row_with(email.html, ">North<")
    assert "Dana" in north and "✗ SLA met<br>✗ AHT mean" in north
    assert "✓ SLA met<br>✓ AHT mean" in _row_with(email.html, ">South<")
    assert "✓ SLA met<br>✓ AHT mean" in _row_with(email.html, ">Agent A<")  # 90%, 200 s
    assert "✗ SLA met<br>✗ AHT mean" in _row_with(email.html, ">Agent B<")  # 50%, 900 s
    assert "TEAMS\n  North (lead: Dana)\n" in email.text
    assert "    Targets: ✗ SLA met · ✗ AHT mean\n" in email.text
    # every interaction started at 01:00: outside the hours, and the headline says so
    assert "Started outside hours: 100.0%" in email.text
    assert "First response, business hours (mean)" in email.html
    # without teams, targets or hours the email is as before
    assert ">Teams<" not in body.html and "Targets:" not in body.text
    assert "outside hours" not in body.text


def test_the_email_charts_specs_are_valid_vega_lite(metrics):
    # drawn without altair's check (as the reports draw theirs): the schema is checked here
    from altair.vegalite.v6.schema.core import Root

    for spec in (
        digest.chart_spec(charts.trend(metrics.trend, digest.TRENDS)),
        digest._daily_spec(metrics),
    ):
        Root.validate(spec)


def test_first_contact_resolution_gets_no_verdict_while_its_window_is_open():
    # W13's FCR improves from 0/20 to 20/20 (every W12 contact comes back within 7 days), but
    # the data ends on Tue 24: a repeat contact may still come, so it is provisional
    rows = [{**r, "contact_id": "same"} for r in _rows("A", 17, 20)] + _rows("A", 24, 20)
    body = _build(rows)
    row = _row_with(body.html, ">First-contact resolution<div")
    assert "· provisional" in row and "better" not in row
    assert "Provisional: first-contact resolution while the data" in body.html
    [line] = [line for line in body.text.splitlines() if line.startswith("  First-contact")]
    assert line.endswith(", provisional")
    # data past every window of the week: the verdict is given
    later = _build([*rows, *[{**r, "started_at": utc(2026, 4, 7, 9)} for r in _rows("B", 1, 1)]])
    assert "better" in _row_with(later.html, ">First-contact resolution<div")
    assert "Provisional:" not in later.html


def test_trends_of_a_single_week_of_data_give_no_range_of_one_value():
    text = _build(_rows("A", 24, 3, met=3, scores=1)).text
    assert "SLA met 100% in 2026-W13, the only week with data" in text
    assert "CSAT (4-5 of 5) 100% in 2026-W13, the only week with data" in text
    assert "between 100% and 100%" not in text
    rows = _rows("A", 24, 4, met=2) + _rows("A", 17, 2, met=1)  # 50% in both weeks
    assert "SLA met 50% in 2026-W13, 50% in every week with data" in _build(rows).text


def test_a_week_after_the_data_says_the_data_ends_before_it():
    rows = _rows("A", 24, 30, met=20)
    m = weekly(make_logs(rows), "2026-W14", "UTC", min_volume=20)
    text = digest.build(m).text
    assert "The data ends on Tue 24 Mar 2026 01:29 (UTC), before this week began" in text
    assert "SLA met: no data in 2026-W14, 67% in the one week before with data" in text
    from cxreports import tables

    assert "The data ends on Tue 24 Mar 2026" in tables.week_notes(m)
    # a week the data stops early in says it ends part way through, not before the week
    within = tables.data_ends(weekly(make_logs(rows), "2026-W13", "UTC"))
    assert "part way through this week" in within and "before this week began" not in within
    # and a week before the data says the data begins after it
    before = weekly(make_logs(rows), "2026-W12", "UTC", min_volume=20)
    assert tables.data_begins(before) == (
        "The data begins on Tue 24 Mar 2026 01:00 (UTC), after this week ended: there is "
        "nothing to report for it."
    )
    assert "after this week ended" in digest.build(before).text


@pytest.mark.parametrize("min_volume", [1, 1000])
def test_few_cases_is_a_fixed_count_not_the_ranking_minimum(min_volume):
    # a minimum of 1000 marked an SLA on 531 verdicts "few cases"; a minimum of 1 left a
    # CSAT of 3 answers unmarked
    rows = _rows("A", 24, 40, met=30, scores=3)
    text = _build(rows, min_volume=min_volume).text
    assert "SLA met: 75.0% (n=40 · 95% CI" in text and "n=40 · 95% CI 60%–86%, few" not in text
    assert "(n=3 · 95% CI" in text and "few cases)" in text
    assert f'"few cases": fewer than {digest.FEW_CASES},' in text and digest.FEW_CASES == 20
