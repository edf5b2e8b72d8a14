from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from pypdf import PdfReader

from cxreports import charts, digest, palette, render, tables, weekly
from cxreports.metrics import changes as changes_
from cxreports.schema import agent_labels, tame

from .metrics_fixtures import make_logs, utc
from .test_charts import ODD_NAMES, _spec_values


@pytest.fixture(scope="module")
def odd_metrics():
    rows = [
        {
            "agent_id": f"A{i}",
            "agent_name": name,
            "queue_name": name,
            "channel": name,
            "started_at": utc(2026, 3, 24, 9 + i),
            "sla_status": "meet",
            "csat_status": "completed",
            "csat_score": 5,
        }
        for i, name in enumerate(ODD_NAMES)
    ]
    return weekly(make_logs(rows), "2026-W13", "UTC", min_volume=1)


@pytest.mark.parametrize(
    "table",
    [
        lambda m: tables.agent_table(m),
        lambda m: tables.csat_agents(m),
        lambda m: tables.rate_table(m.queues, "queue_name", "Queue"),
        lambda m: tables.rate_table(m.channels, "channel", "Channel"),
    ],
    ids=["agents", "csat agents", "queues", "channels"],
)
def test_any_unicode_name_shows_as_text_in_tables(odd_metrics, table):
    shown = table(odd_metrics).as_raw_html()
    for name in ODD_NAMES:  # as the week's tables name them: no control characters
        assert html.escape(tame(name), quote=False) in shown, name


@pytest.fixture(scope="module")
def week():
    rows = [
        {
            "agent_id": f"A{i % 3}",
            "started_at": utc(2026, 3, 23 + i % 5, 9, i),
            "first_response_time_s": None if i == 0 else 30.0 * i,
            "sla_status": "paused" if i == 1 else "meet",
        }
        for i in range(30)
    ]
    return weekly(make_logs(rows), "2026-W13", "UTC", min_volume=10)


def test_duration_kpis_say_mean_and_give_the_median(week):
    cards = tables.kpi_cards(week.kpis, ("aht_s", "frt_mean_s"), summary=week.summary)
    labels = re.findall(r'<div class="cx-label">([^<]*)</div>', cards)
    assert labels == ["Handle time (mean)", "First response (mean)"]
    frt = week.rows["first_response_time_s"]
    assert f"median {tables.duration(frt.median())}" in cards
    assert f'<div class="cx-value">{tables.duration(frt.mean())}</div>' in cards


def test_every_table_names_mean_median_or_p90_and_has_row_headers(week):
    shown = tables.agent_table(week).as_raw_html()
    headings = re.findall(r'<th class="gt_col_heading[^"]*"[^>]*scope="col"[^>]*>([^<]*)<', shown)
    assert {"AHT mean", "AHT median", "AHT p90", "FRT median", "Wrap-up mean"} <= set(headings)
    assert headings[0] == "Agent"
    assert len(re.findall(r'<th scope="row"[^>]*class="gt_row gt_left gt_stub"', shown)) == 3
    assert not re.search(r">(AHT|FRT|Wrap-up|AHT med|FRT med)<", shown)


def test_data_quality_panel_names_fields_for_readers_not_by_column(week):
    panel = tables.data_quality(week)
    assert "Missing first response time" in panel
    assert "SLA status “paused”" in panel
    assert not re.search(r"\w+_(s|id|status|name|at)\b", re.sub(r"<style>.*?</style>", "", panel))
    assert '<th scope="row">' in panel and "<td>" in panel


def test_two_agents_of_one_name_stay_two_and_a_blank_name_shows_the_id():
    from cxreports import charts, digest

    names = {"A1": "Mei Ling Chua", "A2": "Mei Ling Chua", "A3": "   ", "A4": "Ann"}
    rows = [
        {"agent_id": a, "agent_name": n, "started_at": utc(2026, 3, 24, 9, i), "sla_status": "meet"}
        for a, n in names.items()
        for i in range(3 + int(a[1]))
    ]
    m = weekly(make_logs(rows), "2026-W13", "UTC", min_volume=1, scorecards=True)
    shown = ["Mei Ling Chua (A1)", "Mei Ling Chua (A2)", "A3", "Ann"]
    spec = charts.leaderboard(m.agents, "handled", "Handled").to_dict(validate=False)
    values = _spec_values(spec)
    handled = dict(zip(shown, [4, 5, 6, 7], strict=True))
    assert {v["label"]: v["handled"] for v in values} == handled
    heads = re.findall(
        r'class="gt_row gt_left gt_stub">(.*?)</th>', tables.agent_table(m).as_raw_html()
    )
    assert sorted(heads) == sorted(shown)
    assert sorted(c.name for c in m.scorecards.cards) == sorted(shown)
    text = digest.build(m).text  # the email's top agents
    assert all(name in text for name in shown)
    # and what changed, whose cells by agent are the interactions' agents
    cells = make_logs(rows).interactions.select(agent_labels()).unique()["agent_name"]
    assert sorted(cells) == sorted(shown)


def test_an_unranked_agent_named_in_arabic_prints_in_an_upright_font(week, tmp_path):
    # the italic font has no Arabic, and WeasyPrint drew such a name with another font's
    # glyph numbers in it: cat faces
    names = pl.col("agent_id").replace_strict({"A0": "محمد عبد الله"}, default="Ann")
    m = replace(week, agents=week.agents.with_columns(agent_name=names, ranked=pl.lit(False)))
    page = tmp_path / "agents.html"
    page.write_text(f"<html><body>{tables.agent_table(m).as_raw_html()}</body></html>")
    pdf = PdfReader(render.to_pdf(page, tmp_path / "agents.pdf"))
    fonts = {str(f.get_object()["/BaseFont"]) for f in pdf.pages[0]["/Resources"]["/Font"].values()}
    assert fonts and not [f for f in fonts if "Oblique" in f or "Italic" in f], fonts


def test_a_long_row_header_wraps_in_a_box_of_its_own_and_a_short_one_stays_as_it_was(week):
    long_names = {"A0": "Q" + "Z" * 60, "A1": "Maximiliana Alexandrina Bartholomew-Smythe"}
    names = pl.col("agent_id").replace_strict(long_names, default="<b>Tom</b> & Jerry")
    m = replace(week, agents=week.agents.with_columns(agent_name=names))
    shown = tables.agent_table(m).as_raw_html()
    heads = re.findall(r'<th scope="row"[^>]*class="gt_row gt_left gt_stub">(.*?)</th>', shown)
    boxed = [h for h in heads if h.startswith('<span style="display:inline-block;width:13em;')]
    assert len(heads) == 3 and len(boxed) == 2
    assert {re.sub("<[^>]+>", "", h) for h in boxed} == set(long_names.values())
    assert "&lt;b&gt;Tom&lt;/b&gt; &amp; Jerry" in heads  # short: escaped, as it was


def test_text_from_the_data_with_no_place_to_break_wraps_inside_the_printed_page(week, tmp_path):
    # the footer's table is laid out at a fixed width, and the data-quality tables of
    # cxreports' own words wrap between words only (WeasyPrint sizes a table at its content's
    # width by measuring its text at every place it may wrap, with ``anywhere`` every letter):
    # text from the data that cannot break still wraps inside the page, whole (the header's
    # too)
    unbroken = "Q" + "Z" * 240
    unknown = pl.DataFrame({"field": ["sla_status"], "value": [unbroken], "count": [3]})
    named = pl.when(pl.col("agent_id") == "A0").then(pl.lit(unbroken))
    m = replace(
        week,
        params={**week.params, "queues": [unbroken]},
        quality={**week.quality, "unknown_values": unknown},
        agents=week.agents.with_columns(agent_name=named.otherwise(pl.col("agent_name"))),
    )
    page = tmp_path / "report.html"
    panels = tables.agent_table(m).as_raw_html()
    panels += tables.data_quality(m) + tables.footer(m, "f" * 40, "0.1")
    page.write_text(f"<html><body>{tables.header(m, 'Report')}{panels}</body></html>")
    pdf = PdfReader(render.to_pdf(page, tmp_path / "report.pdf"))
    text = "".join(p.extract_text() for p in pdf.pages)
    runs = [len(run) for run in re.findall(r"Z+", text)]
    # the header, the agent table's row header, the unknown values and the footer
    assert sum(runs) == 4 * 240
    assert max(runs) < 120  # A4 holds ~60 of them a line at the footer's size
    assert "Queues (--queues) QZ" in text and "SLA status" in text and "“QZ" in text
    assert "Older duplicates superseded" in text


def test_chinese_japanese_and_korean_names_print_in_a_font_that_has_them(week, tmp_path):
    # DejaVu Sans has none of their letters: without a CJK font installed they print as boxes
    names = {"A0": "王小明", "A1": "佐藤 花子", "A2": "김민준"}
    named = pl.col("agent_id").replace_strict(names, default=pl.col("agent_name"))
    m = replace(week, agents=week.agents.with_columns(agent_name=named))
    page = tmp_path / "agents.html"
    page.write_text(f"<html><body>{tables.agent_table(m).as_raw_html()}</body></html>")
    pdf = PdfReader(render.to_pdf(page, tmp_path / "agents.pdf"))
    fonts = {
        str(font["/BaseFont"]) for p in pdf.pages for font in p["/Resources"]["/Font"].values()
    }
    assert any("DejaVu" not in f and "Liberation" not in f for f in fonts), fonts
    text = re.sub(r"\s", "", "".join(p.extract_text() for p in pdf.pages))  # wrapped names
    assert all(name.replace(" ", "") in text for name in names.values())


@pytest.mark.parametrize(
    "name",
    ["สมชาย ใจดี", "राहुल शर्मा", "অমিত রায়", "கார்த்திக்", "🚀 Ana", "👩\u200d👩\u200d👧 Team"],
)
def test_names_in_thai_indian_scripts_and_emoji_print_in_a_font_that_has_them(week, tmp_path, name):
    # DejaVu Sans has none of these letters: without fonts-noto-core and
    # fonts-noto-color-emoji (./dev.sh installs them) they print as boxes; in a table, and in a
    # chart's SVG text, which the PDF draws as one run so that the script is shaped
    named = pl.when(pl.col("agent_id") == "A0").then(pl.lit(name))
    m = replace(
        week, agents=week.agents.with_columns(agent_name=named.otherwise(pl.col("agent_name")))
    )
    text = f'<text x="5" y="25" font-family="DejaVu Sans">{name}</text>'
    chart = f'<svg width="300" height="40">{text}</svg>'
    page = tmp_path / "agents.html"
    page.write_text(
        f"<html><body>{chart}{tables.agent_table(m).as_raw_html()}</body></html>", encoding="utf-8"
    )
    pdf = PdfReader(render.to_pdf(page, tmp_path / "agents.pdf"))
    fonts = {
        str(font["/BaseFont"]) for p in pdf.pages for font in p["/Resources"]["/Font"].values()
    }
    assert any("DejaVu" not in f and "Liberation" not in f for f in fonts), fonts


@pytest.mark.parametrize(
    ("outside", "provisional", "change", "reading", "kind"),
    [
        (False, False, -0.029, "▼ −2.9 pp within noise", "cx-flat"),
        (True, False, -0.029, "▼ −2.9 pp worse", "cx-bad"),
        (True, False, 0.05, "▲ +5.0 pp better", "cx-good"),
        # no interval: nothing tells the change from noise, so no verdict (as in the email)
        (None, False, -0.029, "▼ −2.9 pp", "cx-flat"),
        # FCR whose 7-day window the data does not reach: it may still fall
        (True, True, 0.05, "▲ +5.0 pp provisional", "cx-flat"),
    ],
)
def test_a_change_within_noise_has_no_verdict_and_no_colour(
    outside, provisional, change, reading, kind
):
    kpis = pl.DataFrame(
        [
            {
                "metric": "sla_met_rate", "label": "SLA met", "unit": "rate", "better": "higher",
                "value": 0.753, "previous": 0.753 - change, "change": change, "n": 539,
                "low": 0.72, "high": 0.79, "outside_interval": outside,
                "provisional": provisional,
            }
        ]
    )  # fmt: skip
    cards = tables.kpi_cards(kpis)
    assert f'<span class="cx-delta {kind}">{reading}</span>' in cards


def test_a_right_to_left_name_is_isolated_in_the_lines_that_name_it():
    from cxreports import digest, scope

    hebrew, arabic = "תמיכה", "فريق"
    rows = [
        {"agent_id": "A1", "queue_name": hebrew, "started_at": utc(2026, 3, 24, 9, i)}
        for i in range(3)
    ]
    m = weekly(make_logs(rows), "2026-W13", "UTC", queues=[hebrew], min_volume=1)
    isolated = f"\u2068{hebrew}\u2069"
    assert f"queues: {isolated}" in tables.header(m, "Agent performance")
    assert digest.build(m).subject.endswith(f" · {isolated}")
    assert scope.describe([hebrew, "Billing"], [], [arabic]) == (
        f"queues {isolated}, Billing; team \u2068{arabic}\u2069"
    )
    # a name in another script that reads left to right is left as it is
    assert scope.describe(["Поддержка"], []) == "queue Поддержка"


def test_a_csat_rate_from_a_handful_of_answers_is_shown_but_not_tinted():
    answers = {"A": (12, 12), "B": (12, 6), "C": (3, 0), "D": (15, 12)}  # (answers, 4-5 of 5)
    rows = [
        {
            "agent_id": agent,
            "agent_name": f"Agent {agent}",
            "started_at": utc(2026, 3, 24, 9, i),
            "sla_status": "meet",
            "csat_status": "completed" if i < n else None,
            "csat_score": (5 if i < good else 1) if i < n else None,
        }
        for agent, (n, good) in answers.items()
        for i in range(20)
    ]
    m = weekly(make_logs(rows), "2026-W13", "UTC", min_volume=10)
    shown = tables.agent_table(m).as_raw_html()

    def csat_cell(agent: str) -> str:
        row = re.search(rf">Agent {agent}</th>(.*?)</tr>", shown, re.S).group(1)
        cells = re.findall(r"<td[^>]*>[^<]*</td>", row)
        return cells[headings.index("CSAT") - 1]  # the first heading is the agent's, a <th>

    headings = re.findall(r'<th class="gt_col_heading[^"]*"[^>]*scope="col"[^>]*>([^<]*)<', shown)

    assert ">0%<" in csat_cell("C") and "background-color" not in csat_cell("C")
    for agent in "ABD":  # 10 answers or more: tinted, the lowest of them vermillion
        assert "background-color" in csat_cell(agent), agent
    assert palette.BAD_TINT.lower() in csat_cell("B").lower()


@pytest.mark.parametrize(("agents", "filler"), [(20, 200), (90, 150)])
def test_a_short_table_is_not_split_and_a_long_one_leaves_no_orphan_rows(tmp_path, agents, filler):
    # CSAT by agent began with two rows at the foot of a page and went on over the next
    rows = [
        {"agent_id": f"A{i:02}", "started_at": utc(2026, 3, 24, 9, j), "sla_status": "meet"}
        for i in range(agents)
        for j in range(2)
    ]
    m = weekly(make_logs(rows), "2026-W13", "UTC", min_volume=1)
    css = (Path(render.__file__).parent / "templates/cxreport/static/cxreport.css").read_text()
    page = tmp_path / "tables.html"
    page.write_text(
        f"<html><head><style>{css}</style></head><body><main>"
        f'<div style="height:{filler}mm">Filler</div>'
        '<div class="jp-Cell jp-MarkdownCell"><h2>CSAT by agent</h2>'
        f"<p>{'A reading guide long enough to wrap over several lines. ' * 12}Closing.</p></div>"
        f"{tables.csat_agents(m).as_raw_html()}</main></body></html>"
    )
    pdf = PdfReader(render.to_pdf(page, tmp_path / "tables.pdf"))
    text = [p.extract_text() for p in pdf.pages]
    assert "Filler" in text[0]
    if agents == 20:  # fits a page: heading, guide and table move on, whole
        assert len(text) == 2 and "CSAT by agent" in text[1] and "A00" not in text[0]
        assert "reading guide" not in text[0] and "Closing." in text[1]
        assert all(f"A{i:02}" in text[1] for i in range(agents))
    else:  # longer than a page: three rows at least under its heading, its header again
        assert "CSAT by agent" in text[0] and "A02" in text[0] and "A89" in text[-1]
        assert len(text) >= 3 and all("Handled" in t for t in text)
        assert "A88" in text[-1]  # and never one row alone on a page


def test_what_changed_has_no_method_note_when_nothing_could_be_compared(week):
    # a week of 30 interactions: no figure has the cases a comparison needs
    assert week.changes is not None and week.changes.tests == 0
    section = tables.changes_section(week, "agent-performance")
    assert week.changes.sentences[0] in section  # the data's first week: no earlier one
    assert "comparisons" not in section and "cx-method" not in section


def test_csat_by_agent_puts_the_rate_its_interval_and_answers_beside_the_name(week):
    # on a phone only the first columns show before the table is scrolled sideways
    shown = tables.csat_agents(week).as_raw_html()
    headings = re.findall(r'<th class="gt_col_heading[^"]*"[^>]*scope="col"[^>]*>([^<]*)<', shown)
    assert headings[:4] == ["Agent", "CSAT", "95% CI (%)", "Responses"]


@pytest.mark.parametrize(
    ("first_day", "first_hour", "noted"),
    [(26, 9, True), (23, 8, False)],  # Thursday: part of the week; Monday 08:00: the opening
)
def test_a_week_the_data_begins_part_way_through_says_so(first_day, first_hour, noted):
    rows = [
        {"agent_id": "A", "started_at": utc(2026, 3, day, first_hour + i), "sla_status": "meet"}
        for day in range(first_day, 30)
        for i in range(3)
    ]
    m = weekly(make_logs(rows), "2026-W13", "Asia/Singapore")
    notes = tables.week_notes(m)
    began = "The data begins on Thu 26 Mar 17:00 (Asia/Singapore), part way through this week"
    assert (began in notes) is noted
    assert ("not because none came" in notes) is noted
    text = digest.build(m).text  # and the email says it too
    assert (began in text) is noted
    # and its chart by day does not call an unknown day the fewest
    assert ("no data before Thu 26, fewest on Thu 26 (3)" in text) is noted
    assert ("fewest on Mon 23" in text) is not noted
    # last week is before the data either way: no change "from 0", nothing compared
    assert m.changes.claims.height == 0 and m.changes.tests == 0
    assert m.changes.sentences[0].startswith("No earlier week to compare with: the data begins")
    assert "No earlier week to compare with" in text and "beyond noise" not in text
    # its trend marks it as part of a week (the weeks before are unknown, not part)
    assert m.trend["part_week"].to_list() == [False] * 7 + [noted]


def test_the_first_week_of_the_data_claims_no_rise_from_the_unknown_week_before():
    # 63 interactions from Wednesday, none before: "Volume rose against last week (63 from
    # 0), beyond noise" while the cards said "no comparison"
    rows = [
        {"agent_id": "A", "started_at": utc(2026, 3, 25 + i % 5, 9, i % 60), "sla_status": "meet"}
        for i in range(63)
    ]
    m = weekly(make_logs(rows), "2026-W13", "UTC")
    assert m.changes.first_week and m.changes.claims.height == 0
    assert "rose" not in " ".join(m.changes.sentences)
    # a week later the first week, begun on a Wednesday, is still no whole week to compare
    # with; two weeks later the second is
    later = rows + [{**r, "started_at": r["started_at"] + timedelta(days=7)} for r in rows]
    assert weekly(make_logs(later), "2026-W14", "UTC").changes.first_week
    later += [{**r, "started_at": r["started_at"] + timedelta(days=14)} for r in rows]
    assert not weekly(make_logs(later), "2026-W15", "UTC").changes.first_week
    # a real week of nothing (closed) between two of work: a rise from 0, said in one space
    closed = rows + [{**r, "started_at": r["started_at"] - timedelta(days=14)} for r in rows]
    [said] = weekly(make_logs(closed), "2026-W13", "UTC").changes.sentences
    assert said.startswith("Volume rose against last week (63 from 0), beyond noise")


def test_an_interval_cell_never_breaks_after_its_dash(week):
    shown = tables.rate_table(week.queues, "queue_name", "Queue").as_raw_html()
    cells = re.findall(r"<td[^>]*>\d+–\d+</td>", shown)
    assert cells and all("white-space:nowrap" in c for c in cells)


def _sla_weeks(met_now: int, n: int = 300, met_before: int = 240, **row) -> list[dict]:
    """``n`` interactions in each of W12 and W13 (UTC), ``met_before`` and ``met_now`` of them
    meeting the SLA; ``row``: columns given to every interaction."""
    return [
        {
            "agent_id": f"A{i % 6}",
            "started_at": utc(2026, 3, start + i % 5, 9 + i % 8, i % 60),
            "sla_status": "meet" if i < met else "breach",
            **row,
        }
        for start, met in ((16, met_before), (23, met_now))
        for i in range(n)
    ]


def test_a_card_verdict_what_changed_does_not_name_is_squared_with_it(monkeypatch):
    # 80% of 300 last week, 74% of 300 now: last week lies outside this week's interval
    # (the card says worse) but a two-proportion test gives p 0.08, far from a claim after the
    # correction; What changed said "Nothing moved beyond noise: no headline figure differs"
    # beside it
    m = weekly(make_logs(_sla_weeks(222)), "2026-W13", "UTC")
    sla = m.kpis.row(by_predicate=pl.col("metric") == "sla_met_rate", named=True)
    assert sla["outside_interval"] and tables.reading(sla) == "worse"
    assert m.changes.claims.height == 0 and m.changes.headline["sla_met_rate", "last week"] == (
        "noise"
    )
    section = tables.changes_section(m, "csat-sla")
    note = (
        "In the headline, SLA met reads worse than last week by its own interval; What changed, "
        f"which counts last week's own noise too and weighs all {m.changes.tests:,} comparisons "
        "together, finds it within noise."
    )
    assert f"<li>{html.escape(note)}</li>" in section
    assert section.index("Nothing moved beyond noise") < section.index(html.escape(note))
    assert note in digest.build(m).text
    # a fall What changed names (80% to 50%) needs no such sentence
    fell = weekly(make_logs(_sla_weeks(150)), "2026-W13", "UTC")
    assert "sla_met_rate" in fell.changes.claims["metric"].to_list()
    assert tables.card_readings(fell, tables.SLA_CSAT_KPIS) is None
    assert "In the headline" not in tables.changes_section(fell, "csat-sla")
    # the same fall beyond noise but past the most claims said: not "within noise"
    monkeypatch.setattr(changes_, "MATERIAL", {**changes_.MATERIAL, "rate": 1.0})
    unsaid = weekly(make_logs(_sla_weeks(150)), "2026-W13", "UTC")
    assert tables.card_readings(unsaid, tables.SLA_CSAT_KPIS) == (
        "In the headline, SLA met reads worse than last week by its own interval; What changed "
        "finds it beyond noise too but leaves it out of the changes it names (smaller than "
        "matters, or past the 6 it names)."
    )


def test_a_card_verdict_what_changed_could_not_test_says_why():
    # CSAT from 25 answers last week (none satisfied) and 12 this week (all): the card's
    # interval says better, but What changed tests nothing on fewer than 20 cases a side
    rows = [
        {**r, "csat_status": "completed", "csat_score": 1 + 4 * (r["started_at"].day > 22)}
        if i % (25 if r["started_at"].day > 22 else 12) == 0
        else r
        for i, r in enumerate(_sla_weeks(222))
    ]
    m = weekly(make_logs(rows), "2026-W13", "UTC")
    assert m.changes.headline["csat_rate", "last week"] == "too few"
    assert tables.card_readings(m, tables.SLA_CSAT_KPIS).endswith(
        "CSAT (4-5 of 5) reads better than last week by its own interval; What changed could not "
        "test it (fewer than 20 cases on a side, or too few of one outcome)."
    )
    # first-contact resolution is never tested; two figures of each reading are read together
    fcr = {"metric": "fcr_rate", "outside_interval": True, "provisional": False, "change": 0.1}
    kpis = m.kpis.with_columns(
        *(
            pl.when(pl.col("metric") == "fcr_rate").then(pl.lit(v)).otherwise(pl.col(c)).alias(c)
            for c, v in fcr.items()
            if c != "metric"
        )
    )
    note = tables.card_readings(replace(m, kpis=kpis), tables.AGENT_KPIS)
    assert note.endswith(
        "First-contact resolution reads better than last week by its own interval; What changed "
        "does not test it."
    )
    # the report that shows no FCR card says nothing of it
    assert "First-contact" not in tables.card_readings(replace(m, kpis=kpis), tables.SLA_CSAT_KPIS)
    mixed = replace(
        m,
        kpis=kpis,
        changes=replace(
            m.changes,
            headline={**m.changes.headline, ("fcr_rate", "last week"): "too few"},
        ),
    )
    assert "SLA met reads worse" in tables.card_readings(mixed, tables.AGENT_KPIS)
    assert (
        "First-contact resolution and CSAT (4-5 of 5) read better than last week, each by its own "
        "interval; What changed could not test them (fewer than 20 cases on a side, or too few "
        "of one outcome)."
    ) in tables.card_readings(mixed, tables.AGENT_KPIS)


def test_a_change_named_against_the_baseline_is_not_squared_again():
    m = weekly(make_logs(_sla_weeks(222)), "2026-W13", "UTC")
    claim = {"metric": "sla_met_rate", "comparison": "the 8-week baseline", "sentence": "s",
             "dimension": None, "now": 0.74, "before": 0.8, "p_value": 0.001}  # fmt: skip
    named = replace(m.changes, claims=pl.DataFrame([claim], schema=changes_.SCHEMA))
    assert tables.card_readings(replace(m, changes=named), tables.SLA_CSAT_KPIS) is None


def test_a_week_before_or_after_the_data_compares_nothing():
    rows = _sla_weeks(222)
    m = weekly(make_logs(rows), "2026-W10", "UTC")
    assert m.changes.sentences == ["Nothing to compare: the data begins after this week."]
    after = weekly(make_logs(rows), "2026-W14", "UTC")
    assert after.changes.sentences == ["Nothing to compare: the data ends before this week."]
    # the trend does not fall to 0 in the week after the data: that week is unknown
    assert after.trend["handled"].to_list()[-3:] == [300, 300, None]
    handled = after.kpis.row(0, named=True)
    assert handled["metric"] == "handled" and handled["value"] is handled["previous"] is None
    # its notes say where the data is, not that no interaction was handled; nor "n=0"
    for week in (m, after):
        notes, text = tables.week_notes(week), digest.build(week).text
        assert "No interactions were handled" not in notes + text
        assert "n=0" not in text and "The data" in notes


def test_a_week_the_data_begins_late_into_is_no_last_week_to_compare_with():
    # 8 interactions on the Sunday evening of W12, 300 in W13: "Volume rose 6038% against
    # last week (491 from 8)" and cards "worse" against a rate of 7 verdicts
    sunday = [
        {"agent_id": "A", "started_at": utc(2026, 3, 22, 20, i), "sla_status": "meet"}
        for i in range(8)
    ]
    rows = sunday + [r for r in _sla_weeks(222) if r["started_at"].day >= 23]
    m = weekly(make_logs(rows), "2026-W13", "UTC")
    assert m.changes.first_week and m.changes.claims.height == 0
    assert "rose" not in " ".join(m.changes.sentences)
    sla = m.kpis.row(by_predicate=pl.col("metric") == "sla_met_rate", named=True)
    assert sla["previous"] == 1.0 and sla["outside_interval"] is None  # no verdict on 8
    # a week later, W13 is a whole last week and W12 no week of the baseline
    later = rows + [{**r, "started_at": r["started_at"] + timedelta(days=7)} for r in rows[8:]]
    found = weekly(make_logs(later), "2026-W14", "UTC").changes
    assert not found.first_week and found.baseline_weeks == 1


def test_a_week_the_data_ends_part_way_through_says_so():
    # a store of a subset of pages ended on a Monday: "Volume fell 81% against last week"
    # with no word that the rest of the week is not in the data
    rows = [r for r in _sla_weeks(222) if r["started_at"].day <= 23]
    m = weekly(make_logs(rows), "2026-W13", "UTC")
    note = tables.data_ends(m)
    assert note.startswith("The data ends on Mon 23 Mar 16:5") and "part way through" in note
    assert note in digest.build(m).text and html.escape(note) in tables.week_notes(m)
    # a week whose data ends on Friday evening (a center closed at weekends) says nothing
    assert tables.data_ends(weekly(make_logs(_sla_weeks(222)), "2026-W13", "UTC")) is None


def test_a_week_the_data_ends_part_way_through_is_compared_up_to_the_same_point():
    # the data ends on Monday 23 Mar: What changed said "Volume fell 80% against last week
    # (60 from 300), beyond noise", a Monday against a whole week
    rows = [r for r in _sla_weeks(222) if r["started_at"].day <= 23]
    until = f"{max(r['started_at'] for r in rows):%a %H:%M}"
    m = weekly(make_logs(rows), "2026-W13", "UTC")
    assert m.changes.until == until and "count" not in m.changes.claims["metric"].to_list()
    assert m.changes.headline["count", "last week"] == "noise"  # 60 against last Monday's 60
    assert m.changes.sentences == [
        f"Nothing moved beyond noise, comparing each week up to {until} (where the data ends): "
        "none of volume or SLA met differs from last week by more than chance would explain "
        f"({m.changes.tests} comparisons checked); CSAT, resolved, transferred, handle time "
        "and first response could not be tested (fewer than 20 cases on a side, or too few of one "
        "outcome)."
    ]
    assert f"every week only up to {until} (where" in tables.changes_section(m, "csat-sla")
    # three times last Monday's contacts by the same time is a rise, said for what it is
    busy = rows + [{**r, "agent_id": "A9"} for r in rows if r["started_at"].day == 23] * 2
    found = weekly(make_logs(busy), "2026-W13", "UTC").changes
    volume = found.claims.row(by_predicate=pl.col("metric") == "count", named=True)
    assert (volume["now"], volume["before"]) == (180, 60)
    assert volume["sentence"].startswith(
        f"Volume rose 200% against last week up to {until} (180 from 60), beyond noise"
    )
    # and its trend marks it as part of a week
    assert m.trend["part_week"].to_list() == [False] * 7 + [True]
    # a week whose data runs to its Friday evening is compared whole, and is a whole week
    whole = weekly(make_logs(_sla_weeks(222)), "2026-W13", "UTC")
    assert whole.changes.until is None and not whole.trend["part_week"].any()


def _every_day(weeks: int, last) -> list[dict]:
    """A center open every day: a contact every 2 hours of ``weeks`` weeks to W13 (UTC), the
    data ending at ``last``."""
    monday = utc(2026, 3, 23) - timedelta(weeks=weeks - 1)
    every = (monday + timedelta(hours=2 * i) for i in range(84 * weeks))
    return [{"agent_id": "A", "started_at": t} for t in every if t <= last]


def test_a_week_the_data_ends_in_is_cut_short_by_what_earlier_weeks_had_after_that_point():
    # a center open every day whose data ends on Friday 02:00, 2 days 22 hours before the
    # week's end: "Volume fell 40% against last week (50 from 84)", with no note
    m = weekly(make_logs(_every_day(3, utc(2026, 3, 27, 2))), "2026-W13", "UTC")
    assert m.changes.until == "Fri 02:00" and m.changes.claims.height == 0
    assert m.ends_early == utc(2026, 3, 27, 2) and "part way through" in tables.data_ends(m)
    # the headline and the agent's change compare with last week up to Friday 02:00 (12 a day
    # from Monday to Thursday, and 00:00 and 02:00 on Friday), not with its whole 84
    handled = m.kpis.filter(pl.col("metric") == "handled").row(0, named=True)
    assert (handled["value"], handled["previous"], handled["change"]) == (50, 50, 0)
    assert m.agents.select("handled", "handled_prev").row(0) == (50, 50)
    assert tables.data_ends(m).endswith(
        "The headline and the agents' changes compare it with last week up to the same point "
        "(Fri 02:00), and What changed every week."
    )
    # the email's chart by day calls no day after the data the fewest
    assert "no data after Fri 27" in digest.build(m).text and "(0)" not in digest.build(m).text
    # the scorecards, which have no headline nor What changed, are not told what those compare
    assert "and What changed every week" in tables.week_notes(m)
    assert "What changed" not in tables.week_notes(m, compared=False)
    assert "headline" not in tables.week_notes(m, compared=False)
    # the agent's scorecard draws the week pale, and sets it beside their earlier weeks up
    # to Friday 02:00 (50 each), not their whole 84
    carded = weekly(
        make_logs(_every_day(3, utc(2026, 3, 27, 2))), "2026-W13", "UTC", scorecards=True
    )
    [card] = carded.scorecards.cards
    handled = card.figures.filter(pl.col("metric") == "handled").row(0, named=True)
    assert (handled["now"], handled["baseline"]) == (50, 50)
    assert tables.data_ends(carded, compared=False).endswith(
        "Each agent's baseline counts their earlier weeks only up to the same point (Fri 02:00)."
    )
    assert card.volume["part_week"].to_list()[-3:] == [False, False, True]
    assert "(W13 only part of a week)" in charts.weekly_volume(card.volume).to_dict()["description"]
    # data that runs to Sunday 22:00 misses less of a week than a change worth a sentence
    m = weekly(make_logs(_every_day(3, utc(2026, 3, 29, 22))), "2026-W13", "UTC")
    assert m.changes.until is None and m.ends_early is None and tables.data_ends(m) is None


def test_a_baseline_counts_every_week_with_rows_not_only_those_with_rows_before_the_cut():
    # cut at Monday 00:14, weeks without a contact by then were left out of the baseline: 30
    # against "the 3-week baseline (40 a week)" read as a fall from the two busy weeks
    monday = utc(2026, 3, 23)
    rows = [{"started_at": monday - timedelta(weeks=8)}]  # the data begins on a Monday
    for n in range(9):
        start = monday - timedelta(weeks=n)
        busy = {0: 30, 3: 60, 5: 60}.get(n, 0)
        apart = timedelta(seconds=29 if n == 0 else 14)  # all before this week's last
        rows += [{"started_at": start + apart * i} for i in range(busy)]
        if n:  # every earlier week in the data: 60 on Wednesday
            rows += [{"started_at": start + timedelta(days=2, minutes=i)} for i in range(60)]
    found = weekly(make_logs(rows), "2026-W13", "UTC").changes
    assert found.until == "Mon 00:14" and found.baseline_weeks == 8
    assert found.sentences[0].startswith(
        "Volume rose 98% against the 8-week baseline up to Mon 00:14 (30 from 15 a week)"
    )


def test_a_first_week_the_data_ends_part_way_through_promises_no_comparison():
    rows = [r for r in _every_day(1, utc(2026, 3, 24, 12))]
    m = weekly(make_logs(rows), "2026-W13", "UTC")
    assert m.changes.first_week and m.ends_early == utc(2026, 3, 24, 12)
    assert tables.data_ends(m) == (
        "The data ends on Tue 24 Mar 12:00 (UTC), part way through this week: its figures "
        "cover only the week until then, and the days after show no interactions because the "
        "data holds none, not because none came."
    )
