"""Targets: checked before any data is read, and each week's status worked out by hand."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from cxreports.cli import main
from cxreports.exceptions import ParameterError
from cxreports.metrics import weekly
from cxreports.report import prepare
from cxreports.targets import evaluate, from_config, parse
from tests.metrics_fixtures import make_logs, utc


def _rows(met: int, breached: int, queue: str = "Support") -> list[dict]:
    day = utc(2026, 3, 24, 9)
    return [
        {"agent_id": "a1", "started_at": day, "sla_status": "meet", "queue_name": queue}
        for _ in range(met)
    ] + [
        {"agent_id": "a1", "started_at": day, "sla_status": "breach", "queue_name": queue}
        for _ in range(breached)
    ]


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def _status(rows: list[dict], *targets: str) -> list[dict]:
    m = weekly(make_logs(rows), "2026-W13", "UTC")
    tables = {"summary": m.summary, "queues": m.queues, "channels": m.channels, "teams": None}
    return evaluate([parse(t) for t in targets], tables).to_dicts()


def test_a_target_met_on_the_point_estimate_but_not_on_the_interval():
    # 5 of 6 met: 83% against a target of 80%; the interval runs from about 44% to 97%
    (row,) = _status(_rows(5, 1), "sla_met_rate >= 0.80")
    assert row["status"] == "met" and row["n"] == 6
    assert row["value"] == pytest.approx(5 / 6) and row["gap"] == pytest.approx(5 / 6 - 0.8)
    low, high = _wilson(5, 6)
    assert (row["low"], row["high"]) == (pytest.approx(low), pytest.approx(high))
    assert row["within_noise"] is True  # the interval still reaches below the target


def test_a_miss_on_many_cases_is_beyond_noise_and_on_few_within_it():
    (many,) = _status(_rows(450, 150), "sla_met_rate >= 0.80")  # 75% of 600
    assert many["status"] == "missed" and many["within_noise"] is False
    assert many["high"] < 0.80
    (few,) = _status(_rows(3, 1), "sla_met_rate >= 0.80")  # 75% of 4
    assert few["status"] == "missed" and few["within_noise"] is True


def test_at_risk_is_met_within_the_band_and_durations_have_no_interval():
    rows = [
        {"agent_id": "a1", "started_at": utc(2026, 3, 24, 9), "handled_time_s": s}
        for s in (500.0, 600.0, 700.0)
    ]  # a mean of 600 s
    at_risk, met, missed = _status(
        rows, "aht_s <= 630 at_risk=60", "aht_s <= 700 at_risk=60", "aht_s <= 599"
    )
    assert (at_risk["status"], met["status"], missed["status"]) == ("at risk", "met", "missed")
    assert at_risk["gap"] == pytest.approx(-30.0) and missed["gap"] == pytest.approx(1.0)
    assert at_risk["within_noise"] is None and at_risk["low"] is None


def test_a_duration_target_counts_the_interactions_that_have_the_duration():
    rows = [
        {"agent_id": "a1", "started_at": utc(2026, 3, 24, 9), "first_response_time_s": frt}
        for frt in (30.0, 50.0, None, None, 70.0)
    ]
    median, handled = _status(rows, "frt_median_s <= 60", "handled >= 1")
    assert (median["value"], median["n"], median["status"]) == (50.0, 3, "met")
    assert handled["n"] == 5


def test_a_target_on_one_queue_and_a_queue_without_data():
    rows = _rows(9, 1, "Billing") + _rows(1, 9, "Sales")
    billing, sales, none = _status(
        rows,
        "sla_met_rate >= 0.8 queue=Billing",
        "sla_met_rate >= 0.8 queue=Sales",
        "csat_rate >= 0.8 queue=Billing",
    )
    assert (billing["status"], billing["scope"], billing["n"]) == ("met", "queue Billing", 10)
    assert sales["status"] == "missed" and sales["value"] == pytest.approx(0.1)
    assert none["status"] == "no data" and none["gap"] is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("sla_met_rate > 0.8", "a target reads METRIC >= VALUE"),
        ("speed >= 1", "unknown target metric 'speed': choose from handled,"),
        ("abandon_rate <= 0.05", "the logs cannot give this metric"),
        ("sla_met_rate >= 80", "the bound must be from 0 to 1 (rate), got 80"),
        ("aht_s <= -5", "the bound must be from 0"),
        ("csat_score_mean >= 6", "from 1 to 5 (score)"),
        ("sla_met_rate >= 0.8 at_risk=-1", "at_risk must be a band above 0"),
        ("sla_met_rate >= 0.8 at_risk=2", "a band above 0 and at most 1 (rate)"),
        ("sla_met_rate >= 0.8 queue=A channel=b", "give one scope, not queue and channel"),
        ("sla_met_rate >= 0.8 queue=A queue=B", "queue= is given twice; give it once"),
        ("sla_met_rate >= 0.8 at_risk=0.1 at_risk=0.3", "at_risk= is given twice"),
        ("sla_met_rate >= 0.8 colour=red", "is not at_risk=BAND"),
        ("sla_met_rate >= 1e999", "must be a finite number"),
    ],
)
def test_a_target_that_cannot_be_measured_is_one_line(text: str, problem: str):
    with pytest.raises(ParameterError) as raised:
        parse(text)
    assert problem in str(raised.value) and "\n" not in str(raised.value)


def test_the_config_form_names_the_table():
    (goal,) = from_config([{"metric": "sla_met_rate", "min": 0.8, "queue": "Tier 1 Support"}])
    assert parse(goal.text()) == goal
    with pytest.raises(ParameterError, match=r"\[\[targets\]\] #1: give min .* or max"):
        from_config([{"metric": "aht_s", "min": 1, "max": 2}])
    with pytest.raises(ParameterError, match=r"\[\[targets\]\] #2: unknown target metric"):
        from_config([{"metric": "aht_s", "max": 600}, {"metric": "x", "max": 1}])


def test_metrics_targets_prints_each_status(sample_dir: Path, capsys):
    args = ["metrics", "targets", str(sample_dir), "--week", "2026-W13", "--format", "csv"]
    goals = ["--target", "sla_met_rate >= 0.5", "--target", "aht_s <= 1"]
    assert main([*args, *goals]) == 0
    out = pl.read_csv(capsys.readouterr().out.encode())
    assert out["status"].to_list() == ["met", "missed"]
    assert main(args) == 2
    assert "needs one or more --target" in capsys.readouterr().err
    # a bad target stops before any data is read: one line, exit 2
    assert main([*args, "--target", "speed >= 1"]) == 2
    assert "unknown target metric 'speed'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:  # (argparse's own exit)
        main([*args, "--target", " "])
    assert stopped.value.code == 2
    assert "expected a target such as" in capsys.readouterr().err


def test_a_teams_target_needs_the_mapping(sample_dir: Path):
    # (the message once blamed --teams, an option the user had not given)
    with pytest.raises(ParameterError, match="a target on a team needs the teams mapping"):
        prepare(sample_dir, "2026-W13", "UTC", targets=["sla_met_rate >= 0.8 team=North"])


def test_the_targets_lead_never_counts_a_target_without_data_as_met():
    from cxreports import tables

    m = weekly(make_logs(_rows(5, 1)), "2026-W13", "UTC")
    week = {"summary": m.summary, "queues": m.queues, "channels": m.channels, "teams": None}
    goals = [parse("sla_met_rate >= 0.5"), parse("csat_rate >= 0.8")]  # no CSAT this week
    section = tables.targets_section(replace(m, targets=evaluate(goals, week)))
    assert "None of the 2 targets is missed; 1 had no data this week." in section
    assert "met or at risk" not in section


def test_a_scope_is_found_as_a_filter_is_and_an_unknown_one_is_an_error(
    sample_dir: Path, tmp_path: Path
):
    # a scope in another case, or one the data lacks, once gave "no data" every week
    _, m = prepare(
        sample_dir,
        "2026-W13",
        "UTC",
        targets=["sla_met_rate >= 0.8 queue=billing", "sla_met_rate >= 0.8 channel=EMAIL"],
    )
    billing, email = m.targets.to_dicts()
    assert (billing["scope"], email["scope"]) == ("queue Billing", "channel email")
    assert billing["n"] == m.queues.filter(pl.col("queue_name") == "Billing")["sla_eligible"][0]
    with pytest.raises(ParameterError, match=r"target sla_met_rate >= 0\.8 queue=Nope: unknown"):
        prepare(sample_dir, "2026-W13", "UTC", targets=["sla_met_rate >= 0.8 queue=Nope"])
    # and a team, in a team target and in the filter alike
    agents = m.agents["agent_id"].drop_nulls().to_list()
    (tmp_path / "teams.csv").write_text(
        "agent_id,team\n"
        + "".join(f"{a},{'North' if i % 2 else 'South'}\n" for i, a in enumerate(agents))
    )
    teams = tmp_path / "teams.csv"
    _, north = prepare(
        sample_dir, "2026-W13", "UTC", team_map=teams, teams=["north"],
        targets=["sla_met_rate >= 0.8 team=NORTH"],
    )  # fmt: skip
    assert north.params["teams"] == ["North"] and north.targets["scope"][0] == "team North"
    assert 0 < north.handled < m.handled


@pytest.mark.slow
def test_both_reports_show_targets_only_when_given(sample_dir: Path, tmp_path: Path, rendered):
    from cxreports.report import REPORTS, render_reports

    written = render_reports(
        list(REPORTS), [sample_dir], "2026-W13", "Asia/Singapore", tmp_path,
        formats=["html"], targets=["sla_met_rate >= 0.99", "aht_s <= 100000"],
    )  # fmt: skip
    for name in REPORTS:
        page = written[name]["html"].read_text()
        assert '<h2 id="Targets">Targets</h2>' in page
        assert "1 of 2 targets missed this week." in page
        assert "✗ missed" in page and "✓ met" in page
        # the miss is listed first
        assert page.index("SLA met ≥ 99.0%") < page.index("Handle time, mean ≤")
        assert 'id="Targets"' not in rendered[name]["html"].read_text()


def test_the_weekly_config_takes_targets_and_checks_them(sample_dir: Path, tmp_path: Path):
    from cxreports.config import read_config
    from cxreports.job import run_weekly  # noqa: F401  (the job reads them as parameters)

    config = tmp_path / "cx.toml"
    base = (
        f"[source]\npath = '{sample_dir}'\n[smtp]\nhost = 'localhost'\nfrom = 'r@example.com'\n"
        "[[groups]]\nname = 'all'\nto = ['a@example.com']\n"
    )
    good = "[[targets]]\nmetric = 'sla_met_rate'\nmin = 0.8\nat_risk = 0.05\nqueue = 'Sales'\n"
    assert len(read_config(config_with(config, base + good)).check().target_tables) == 1
    bad = "[[targets]]\nmetric = 'sla_met_rate'\nmin = 80\n"
    with pytest.raises(ParameterError, match=r"\[\[targets\]\] #1: target sla_met_rate: the bound"):
        read_config(config_with(config, base + bad))
    team = "[[targets]]\nmetric = 'csat_rate'\nmin = 0.8\nteam = 'North'\n"
    with pytest.raises(ParameterError, match="a team's target needs the teams"):
        read_config(config_with(config, base + team))


def config_with(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_kpi_card_shows_its_whole_week_target_and_status():
    from cxreports import tables

    m = weekly(make_logs(_rows(450, 150) + _rows(1, 0, "Sales")), "2026-W13", "UTC")
    tables_ = {"summary": m.summary, "queues": m.queues, "channels": m.channels, "teams": None}
    goals = evaluate(
        [parse("sla_met_rate >= 0.80"), parse("sla_met_rate >= 0.5 queue=Sales")], tables_
    )
    cards = tables.kpi_cards(m.kpis, ("sla_met_rate", "handled"), targets=goals)
    sla = cards[: cards.index("HANDLED") if "HANDLED" in cards else cards.index("Handled")]
    assert "✗ missed" in sla and "target ≥ 80.0%" in sla
    assert cards.count("target ≥") == 1  # the queue's target is not the whole week's
    assert "target" not in tables.kpi_cards(m.kpis, ("sla_met_rate",))


def test_each_team_is_held_to_the_whole_weeks_targets(tmp_path: Path):
    from cxreports import tables
    from cxreports.targets import by_group
    from cxreports.teams import read

    mapping = tmp_path / "teams.csv"
    mapping.write_text("agent_id,team\na1,North\na2,South\n")
    rows = _rows(9, 1) + [  # a1: 90% met; a2: 50% met
        {"agent_id": "a2", "started_at": utc(2026, 3, 24, 9), "sla_status": s}
        for s in ("meet", "breach")
    ]
    m = weekly(make_logs(rows), "2026-W13", "UTC", team_map=read(mapping))
    goals = [parse("sla_met_rate >= 0.8"), parse("sla_met_rate >= 0.1 queue=Support")]
    per_team = dict(by_group(goals, m.teams, "team").iter_rows())
    assert per_team == {"North": "✓ SLA met", "South": "✗ SLA met"}  # queue targets left out
    teams = m.teams.join(by_group(goals, m.teams, "team"), on="team")
    shown = tables.team_table(replace(m, teams=teams)).as_raw_html()
    assert ">Targets</th>" in shown and "✗ SLA met" in shown
    assert ">Targets</th>" not in tables.team_table(m).as_raw_html()


def test_each_ranked_agent_is_held_to_the_whole_weeks_targets(sample_dir: Path):
    from cxreports import tables

    _, m = prepare(
        sample_dir, "2026-W13", "UTC", min_volume=20,
        targets=["handled >= 30", "aht_s <= 600", "sla_met_rate >= 0.5 queue=Sales"],
    )  # fmt: skip
    rows = m.agents.select("ranked", "handled", "aht_s", "targets").to_dicts()
    assert any(r["ranked"] for r in rows) and not all(r["ranked"] for r in rows)
    for r in rows:
        if not r["ranked"]:  # below the minimum volume a status would be noise
            assert r["targets"] is None
            continue
        handled = "✓" if r["handled"] >= 30 else "✗"
        aht = "–" if r["aht_s"] is None else ("✓" if r["aht_s"] <= 600 else "✗")
        assert r["targets"] == f"{handled} Handled · {aht} AHT mean"  # no queue target
    shown = tables.agent_table(m).as_raw_html()
    assert ">Targets</th>" in shown and ("✗ AHT mean" in shown or "✓ all 2 met" in shown)
    _, plain = prepare(sample_dir, "2026-W13", "UTC")
    assert ">Targets</th>" not in tables.agent_table(plain).as_raw_html()
