"""Agent scorecards: peers, baselines, strengths and focus areas worked out by hand, the report
rendered with a page per agent, and each group mailed only the agents its scope covers."""

from __future__ import annotations

import email
import email.policy
import html
import re
from pathlib import Path

import pytest

from cxreports import tables
from cxreports.metrics import weekly
from tests.metrics_fixtures import make_logs, utc


def _agent(agent: str, n: int, met: int, handled_s: float, day: int = 24) -> list[dict]:
    """``n`` interactions of ``agent`` in the Support queue on March ``day`` 2026 (UTC), the
    first ``met`` within their SLA, each handled in about ``handled_s`` seconds."""
    return [
        {
            "agent_id": agent,
            "agent_name": f"Agent {agent}",
            "started_at": utc(2026, 3, day, 9, i % 60, i // 60),
            "sla_status": "meet" if i < met else "breach",
            "handled_time_s": handled_s * (0.8 + 0.4 * (i % 5) / 4),
            "first_response_time_s": 30.0 + i % 7,
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def cards():
    rows = _agent("A", 60, 24, 600)  # SLA 40%: far below the others
    for peer in "BCD":
        rows += _agent(peer, 60, 54, 600)  # SLA 90%
    rows += _agent("E", 60, 54, 100)  # as good on SLA, six times quicker
    rows += _agent("F", 3, 3, 600)  # below the minimum volume
    rows += _agent("A", 20, 18, 500, day=17)  # last week: the baseline's one week of A
    m = weekly(make_logs(rows), "2026-W13", "UTC", min_volume=20, scorecards=True)
    return {card.agent_id: card for card in m.scorecards.cards}


def _figure(card, metric: str) -> dict:
    return card.figures.filter(card.figures["metric"] == metric).row(0, named=True)


def test_a_card_compares_with_the_agents_own_baseline_and_the_peer_median(cards):
    a = cards["A"]
    assert (a.ranked, a.handled, a.main_queue, a.peers) == (True, 60, "Support", 4)
    sla = _figure(a, "sla_met_rate")
    assert sla["now"] == pytest.approx(0.4)
    assert sla["baseline"] == pytest.approx(18 / 20)  # last week, the baseline's only week
    assert sla["peers"] == pytest.approx(0.9)  # B, C, D and E: 90% each
    assert sla["low"] < 0.4 < sla["high"]
    assert _figure(a, "handled")["baseline"] == 20  # a week of the baseline, per week
    assert _figure(a, "handled")["peers"] == 60


def test_strengths_and_focus_areas_are_differences_beyond_noise(cards):
    assert "SLA met" in cards["A"].focus and not cards["A"].strengths
    assert _figure(cards["A"], "sla_met_rate")["reading"] == "focus"
    assert "Handle time, median" in cards["E"].strengths
    assert _figure(cards["E"], "aht_median_s")["reading"] == "strength"
    # B, C and D are their peers' equals: nothing beyond noise
    for peer in "BCD":
        assert cards[peer].strengths == () and cards[peer].focus == ()


def test_an_agent_below_the_minimum_volume_gets_no_comparison(cards):
    f = cards["F"]
    assert not f.ranked and f.peers == 0
    assert f.strengths == () and f.focus == ()
    assert f.figures["reading"].null_count() == f.figures.height
    assert f.figures["peers"].null_count() == f.figures.height
    # ranked agents first, most handled first; F last
    assert list(cards)[-1] == "F"


def test_a_page_per_agent_and_the_short_page_below_the_minimum(cards):
    from cxreports import charts, tables

    m_params = type("M", (), {"params": {"min_volume": 20}})()
    page = tables.scorecard_page(
        cards["A"], m_params, [charts.svg(c) for c in charts.scorecard(cards["A"])]
    )
    assert page.count('class="cx-scorecard"') == 1 and page.count("<svg") == 2
    assert "▼ Focus areas:</strong> SLA met" in page and "▼ focus" in page
    short = tables.scorecard_page(cards["F"], m_params)
    assert "fewer than the minimum volume of 20" in short and "<svg" not in short


def test_a_right_to_left_team_queue_or_name_is_isolated_in_a_scorecards_lines(cards):
    from dataclasses import replace

    from cxreports import tables

    m_params = type("M", (), {"params": {"min_volume": 20}})()
    card = replace(cards["F"], name="דנה", team="צוות א", main_queue="תמיכה")
    page = tables.scorecard_page(card, m_params)
    assert "team \u2068צוות א\u2069 · 3 handled this week · mostly \u2068תמיכה\u2069" in page
    assert "<p>\u2068דנה\u2069 handled 3 interactions" in page


@pytest.mark.slow
def test_the_scorecards_report_has_a_page_per_agent(sample_dir: Path, tmp_path: Path):
    from cxreports.cli import main
    from cxreports.report import prepare

    out = tmp_path / "out"
    args = ["report", "all", str(sample_dir), "--week", "2026-W13", "--tz", "Asia/Singapore"]
    assert main([*args, "--scorecards", "--out", str(out)]) == 0
    week = out / "2026-W13"
    assert {"agent-scorecards.html", "agent-scorecards.pdf"} <= {p.name for p in week.iterdir()}
    page = (week / "agent-scorecards.html").read_text()
    _, m = prepare(sample_dir, "2026-W13", "Asia/Singapore", scorecards=True)
    names = [c.name for c in m.scorecards.cards]
    ranked = [c.name for c in m.scorecards.cards if c.ranked]
    below = [c for c in m.scorecards.cards if not c.ranked]
    assert len(ranked) > 5 and below
    # a page per ranked agent, and one for all those below the minimum volume (a page each
    # held two lines: 8 of the sample's 21 pages)
    assert page.count('class="cx-scorecard"') == len(ranked) + 1
    contents = page[page.index('id="Contents"') :]
    positions = [contents.index(f">{html.escape(name)}</a>") for name in names]
    assert positions == sorted(positions)  # the contents list every agent, in order
    for card in below:  # each links to its row of the shared page
        anchor = re.search(rf'href="#([^"]+)">{re.escape(html.escape(card.name))}</a>', page)
        assert anchor and f'<tr id="{anchor[1]}">' in page
    from pypdf import PdfReader

    texts = [p.extract_text() for p in PdfReader(week / "agent-scorecards.pdf").pages]
    first = next(i for i, text in enumerate(texts) if "handled this week" in text)
    cards = texts[first : first + len(ranked)]
    # a page per agent, from the first: the charts on the page of the figures, not the next
    assert all(t.count("handled this week") == 1 for t in cards)
    [shared] = [t for t in texts[first + len(ranked) :] if "Below the minimum volume" in t]
    assert all(card.name in shared for card in below)
    assert "handled this week" not in shared
    assert len(texts) <= first + len(ranked) + 2  # the shared page, and the footer's if need be


@pytest.mark.slow
def test_each_group_is_mailed_only_the_scorecards_of_the_agents_it_covers(
    sample_dir: Path, tmp_path: Path, smtp_server
):
    from cxreports import load
    from cxreports.config import read_config
    from cxreports.job import run_weekly

    agents = load(sample_dir).interactions.select("agent_id", "agent_name").drop_nulls().unique()
    ids = sorted(agents["agent_id"].to_list())
    teams = tmp_path / "teams.csv"
    teams.write_text(
        "agent_id,team\n"
        + "".join(f"{a},{'North' if i % 2 else 'South'}\n" for i, a in enumerate(ids))
    )
    server = smtp_server()
    config = tmp_path / "cx.toml"
    config.write_text(
        f"[source]\npath = '{sample_dir}'\n"
        f"[report]\ntz = 'Asia/Singapore'\nout = '{tmp_path / 'out'}'\nscorecards = true\n"
        f"team_map = '{teams}'\nformats = ['html']\n"
        f"[smtp]\nhost = '{server.host}'\nport = {server.port}\nsecurity = 'none'\n"
        "from = 'r@example.com'\n"
        "[[groups]]\nname = 'north'\nto = ['north@example.com']\nteams = ['North']\n"
        "[[groups]]\nname = 'south'\nto = ['south@example.com']\nteams = ['South']\n"
    )
    run_weekly(read_config(config), "2026-W13")
    team_of = dict(zip(ids, ["North" if i % 2 else "South" for i in range(len(ids))], strict=True))
    names = dict(agents.iter_rows())
    messages = [email.message_from_bytes(x.content, policy=email.policy.default)
                for x in server.inbox.messages]  # fmt: skip
    assert len(messages) == 2
    for message in messages:
        team = "North" if message["To"] == "north@example.com" else "South"
        part = next(
            p for p in message.iter_attachments() if p.get_filename() == "agent-scorecards.html"
        )
        page = part.get_content()
        shown = {a for a in ids if f">{names[a]}</h2>" in page}
        assert shown and {team_of[a] for a in shown} == {team}
        # no other team's agent anywhere in the mail, attachments included
        others = [names[a] for a in ids if team_of[a] != team]
        for attachment in message.iter_attachments():
            if attachment.get_filename().endswith(".html"):
                text = attachment.get_content()
                assert not [n for n in others if f">{n}<" in text]


def test_a_scorecards_charts_specs_are_valid_vega_lite(cards):
    # drawn without altair's check (as the reports draw theirs): the schema is checked here
    from altair.vegalite.v6.schema.core import Root

    from cxreports import charts

    for card in cards.values():
        if card.ranked:
            for chart in charts.scorecard(card):
                Root.validate(chart.to_dict(validate=False))


def test_a_change_the_whole_queue_shares_reads_against_the_agents_own_weeks_not_as_focus():
    rows = []
    for agent in "ABCD":
        rows += _agent(agent, 60, 30, 600)  # SLA 50% this week, as every peer
        rows += _agent(agent, 60, 57, 600, day=17)  # 95% last week
    m = weekly(make_logs(rows), "2026-W13", "UTC", min_volume=20, scorecards=True)

    for card in m.scorecards.cards:
        assert card.focus == () and card.strengths == ()
        assert card.own == (("SLA met", "worse"),)
        assert _figure(card, "sla_met_rate")["reading"] == "worse"
        assert _figure(card, "aht_median_s")["reading"] is None
        head = tables.scorecard_head(card, m)
        assert "<strong>Worse than their own 8 weeks:</strong> SLA met, but level" in head
        assert (
            '<th scope="row">SLA met<br><span class="cx-reading cx-flat">worse than own 8 ' in head
        )
        assert "Better than" not in head
        # four columns, the reading under the name: a phone shows a whole row unscrolled
        assert head.count('<th scope="col">') == 4
    # SLA tested against the peers and against the own weeks, for each of the four agents: the
    # correction counts both
    assert m.scorecards.tests >= 2 * 4


def test_a_card_without_peers_says_there_is_none_to_compare_with():
    m = weekly(make_logs(_agent("A", 30, 20, 600)), "2026-W13", "UTC", scorecards=True)
    [card] = m.scorecards.cards
    head = tables.scorecard_head(card, m)
    assert card.peers == 0 and "median of 0 peers" not in head
    assert "none, as no other agent is ranked to compare with" in head
