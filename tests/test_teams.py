"""Teams: the mapping is checked whole, and the roll-up matches figures worked out by hand."""

from __future__ import annotations

import html
import math
import unicodedata
from pathlib import Path

import polars as pl
import pytest

from cxreports.cli import main
from cxreports.exceptions import ParameterError
from cxreports.metrics import weekly
from cxreports.teams import UNASSIGNED, from_config, read
from tests.metrics_fixtures import make_logs, utc

TEAMS_CSV = "agent_id,team,lead\na1,Alpha,Dana\na2,Alpha,Dana\na3,Beta,Ola\n"

# 2026-W13 in UTC: Monday 23 March to Sunday 29 March
ROWS = [
    # Alpha: a1 twice, a2 once; SLA met 2 of 3
    {"agent_id": "a1", "started_at": utc(2026, 3, 23, 9), "handled_time_s": 100.0,
     "sla_status": "meet"},
    {"agent_id": "a1", "started_at": utc(2026, 3, 24, 9), "handled_time_s": 300.0,
     "sla_status": "breach"},
    {"agent_id": "a2", "started_at": utc(2026, 3, 25, 9), "handled_time_s": 200.0,
     "sla_status": "meet"},
    # Beta: a team of one agent
    {"agent_id": "a3", "started_at": utc(2026, 3, 26, 9), "handled_time_s": 50.0,
     "sla_status": "meet"},
    # in no team: an agent the mapping does not name
    {"agent_id": "a9", "started_at": utc(2026, 3, 27, 9), "handled_time_s": 400.0,
     "sla_status": "breach"},
    # last week: not in this week's roll-up
    {"agent_id": "a1", "started_at": utc(2026, 3, 17, 9), "handled_time_s": 900.0},
]  # fmt: skip


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.fixture
def teams_file(tmp_path: Path) -> Path:
    path = tmp_path / "teams.csv"
    path.write_text(TEAMS_CSV)
    return path


def test_the_team_roll_up_matches_figures_worked_out_by_hand(teams_file: Path):
    m = weekly(make_logs(ROWS), "2026-W13", "UTC", min_volume=1, team_map=read(teams_file))
    assert m.teams is not None
    rows = {r["team"]: r for r in m.teams.iter_rows(named=True)}
    assert list(rows) == ["Alpha", "Beta", UNASSIGNED]  # by name, agents in no team last
    alpha, beta, none = rows["Alpha"], rows["Beta"], rows[UNASSIGNED]
    assert (alpha["lead"], beta["lead"], none["lead"]) == ("Dana", "Ola", None)
    assert (alpha["handled"], beta["handled"], none["handled"]) == (3, 1, 1)
    assert alpha["aht_s"] == pytest.approx(200.0) and beta["aht_s"] == pytest.approx(50.0)
    assert alpha["sla_met_rate"] == pytest.approx(2 / 3)
    low, high = _wilson(2, 3)
    assert alpha["sla_met_rate_low"] == pytest.approx(low)
    assert alpha["sla_met_rate_high"] == pytest.approx(high)
    # a team of one agent with one case: all met, the interval still wide
    assert beta["sla_met_rate"] == 1.0 and beta["sla_met_rate_high"] == 1.0
    assert beta["sla_met_rate_low"] == pytest.approx(_wilson(1, 1)[0])
    assert none["sla_met_rate"] == 0.0
    # the teams add up to the week
    assert m.teams["handled"].sum() == m.handled == 5


def test_agents_and_rows_name_their_team(teams_file: Path):
    m = weekly(make_logs(ROWS), "2026-W13", "UTC", min_volume=1, team_map=read(teams_file))
    assert dict(m.agents.select("agent_id", "team").iter_rows()) == {
        "a1": "Alpha", "a2": "Alpha", "a3": "Beta", "a9": UNASSIGNED,
    }  # fmt: skip
    assert m.rows.group_by("team").len().sort("team").rows() == [
        ("Alpha", 3), ("Beta", 1), (UNASSIGNED, 1),
    ]  # fmt: skip


def test_without_a_mapping_nothing_changes():
    m = weekly(make_logs(ROWS), "2026-W13", "UTC", min_volume=1)
    assert m.teams is None
    assert "team" not in m.agents.columns and "team" not in m.rows.columns


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("agent_id,team,boss\na1,A,x\n", "unknown column(s) 'boss'"),
        ("agent_id,lead\na1,x\n", "no team column"),
        ("agent_id,team,team\na1,A,A\n", "a column is named twice"),
        ("agent_id,team\na1,Alpha\na1,Beta\n", "agent 'a1' is in two teams: 'Alpha' (line 2) "
         "and 'Beta' (line 3)"),
        ("agent_id,team,lead\na1,A,Dana\na2,A,Ola\n", "team 'A' has two leads: 'Dana' (line 2) "
         "and 'Ola' (line 3)"),
        ("agent_id,team\na1,\n", "line 2: team must be text"),
        ("agent_id,team\na1,A,extra\n", "line 2 has 3 fields, not 2"),
        (f"agent_id,team\na1,{UNASSIGNED}\n", "'Unassigned' is kept for agents in no team"),
        ("agent_id,team\n", "names no agent"),
        ("", "the teams file is empty"),
    ],
)  # fmt: skip
def test_a_bad_mapping_is_one_line_naming_the_file_and_the_problem(tmp_path, text, problem):
    path = tmp_path / "teams.csv"
    path.write_text(text)
    with pytest.raises(ParameterError) as raised:
        read(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and problem in message
    assert "\n" not in message


def test_a_second_lead_is_told_once_not_for_each_of_its_rows(tmp_path: Path):
    path = tmp_path / "teams.csv"
    path.write_text("agent_id,team,lead\na1,A,Dana\n" + "".join(f"b{i},A,Ola\n" for i in range(5)))
    with pytest.raises(ParameterError) as raised:
        read(path)
    assert str(raised.value).count("has two leads") == 1


def test_every_problem_is_told_at_once(tmp_path: Path):
    path = tmp_path / "teams.csv"
    path.write_text("agent_id,team\na1,A\na1,B\n,C\na2,\n")
    with pytest.raises(ParameterError) as raised:
        read(path)
    message = str(raised.value)
    assert "two teams" in message and "line 4" in message and "line 5" in message


def test_a_file_that_cannot_be_a_mapping_is_one_line(tmp_path: Path):
    for path, problem in (
        (tmp_path / "missing.csv", "no such teams file"),
        (tmp_path, "is a folder"),
    ):
        with pytest.raises(ParameterError, match=problem):
            read(path)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("agent_id,team\na1,Équipe\n".encode("latin-1"))
    with pytest.raises(ParameterError, match="not UTF-8"):
        read(latin)


def test_a_bom_blank_lines_spaces_and_a_repeated_row_are_accepted(tmp_path: Path):
    path = tmp_path / "teams.csv"
    path.write_bytes("\ufeffagent_id, team\n\na1 , Équipe 1\n\na1,Équipe 1\na2,Équipe 1\n".encode())
    teams = read(path)
    assert teams.members.rows() == [("a1", "Équipe 1", None), ("a2", "Équipe 1", None)]
    assert teams.names == ["Équipe 1"]


def test_the_config_form_is_checked_like_the_file():
    teams = from_config(
        [
            {"name": "Alpha", "lead": "Dana", "agents": ["a1", "a2"]},
            {"name": "Beta", "agents": ["a3"]},
        ],
        "cx.toml",
    )
    assert teams.leads().rows() == [("Alpha", "Dana"), ("Beta", None)]
    with pytest.raises(ParameterError, match=r"cx.toml: \[\[teams\]\] #1: unknown key\(s\) boss"):
        from_config([{"name": "A", "agents": ["a1"], "boss": "x"}], "cx.toml")
    with pytest.raises(ParameterError, match="agents must be a non-empty list"):
        from_config([{"name": "A", "agents": "a1"}], "cx.toml")
    with pytest.raises(ParameterError, match="agent 'a1' is in two teams"):
        from_config([{"name": "A", "agents": ["a1"]}, {"name": "B", "agents": ["a1"]}], "cx.toml")


def test_metrics_teams_prints_the_roll_up(sample_dir: Path, tmp_path: Path, capsys):
    from cxreports import load

    agents = load(sample_dir).interactions["agent_id"].drop_nulls().unique().sort().to_list()
    path = tmp_path / "teams.csv"
    path.write_text(
        "agent_id,team,lead\n"
        + "".join(
            f"{a},{'North' if i % 2 else 'South'},Lead {i % 2}\n" for i, a in enumerate(agents[:-1])
        )
    )
    args = ["metrics", "teams", str(sample_dir), "--week", "2026-W13", "--format", "csv"]
    assert main([*args, "--team-map", str(path)]) == 0
    out = pl.read_csv(capsys.readouterr().out.encode())
    assert out["team"].to_list() == ["North", "South", UNASSIGNED]
    assert out["lead"].to_list()[:2] == ["Lead 1", "Lead 0"]
    week = main(["metrics", "summary", str(sample_dir), "--week", "2026-W13", "--format", "csv"])
    assert week == 0
    summary = pl.read_csv(capsys.readouterr().out.encode())
    assert out["handled"].sum() == summary["handled"].item()
    # the teams table without a mapping: one line, exit 2
    assert main(args) == 2
    assert "needs --team-map FILE" in capsys.readouterr().err


def _sample_teams(sample_dir: Path, path: Path) -> Path:
    from cxreports import load

    agents = load(sample_dir).interactions["agent_id"].drop_nulls().unique().sort().to_list()
    path.write_text(
        "agent_id,team,lead\n"
        + "".join(
            f"{a},{'North' if i % 2 else 'South'},{'Dana Whitfield' if i % 2 else 'Ola Mensah'}\n"
            for i, a in enumerate(agents[:-1])
        )
    )
    return path


@pytest.mark.slow
def test_the_agent_report_shows_teams_only_when_a_mapping_is_given(
    sample_dir: Path, tmp_path: Path, rendered
):
    from cxreports.report import render_reports

    teams = _sample_teams(sample_dir, tmp_path / "teams.csv")
    written = render_reports(
        ["agent-performance"], [sample_dir], "2026-W13", "Asia/Singapore", tmp_path / "out",
        formats=["html"], team_map=str(teams),
    )  # fmt: skip
    page = written["agent-performance"]["html"].read_text()
    assert '<h2 id="Teams">Teams</h2>' in page
    for text in ("North", "South", UNASSIGNED, "Dana Whitfield", "Ola Mensah", "SLA 95% CI (%)"):
        assert text in page
    assert page.index('id="Teams"') < page.index('id="Agents"')  # the roll-up comes first
    assert ">Team</th>" in page[page.index('id="Agents"') :]  # agents say their team
    # without a mapping the report is as before: no section, no column
    plain = rendered["agent-performance"]["html"].read_text()
    assert 'id="Teams"' not in plain and ">Team</th>" not in plain


def test_a_bad_mapping_stops_a_report_before_any_kernel(sample_dir: Path, tmp_path: Path, capsys):
    bad = tmp_path / "teams.csv"
    bad.write_text("agent_id,team\na1,North\na1,South\n")
    args = ["report", "all", str(sample_dir), "--week", "2026-W13", "--out", str(tmp_path / "o")]
    assert main([*args, "--team-map", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "agent 'a1' is in two teams" in err and str(bad) in err
    assert not (tmp_path / "o").exists()


def test_the_weekly_config_takes_a_teams_file_and_checks_it(sample_dir: Path, tmp_path: Path):
    from cxreports.config import read_config

    teams = _sample_teams(sample_dir, tmp_path / "teams.csv")
    config = tmp_path / "cx.toml"
    base = _config_head(sample_dir) + "[[groups]]\nname = 'all'\nto = ['a@example.com']\n"
    config.write_text(base + f"[report]\nteam_map = '{teams}'\n")
    assert read_config(config).check().team_map == str(teams)
    teams.write_text("agent_id,squad\na1,North\n")
    with pytest.raises(ParameterError, match=r"\[report\] team_map: .*unknown column\(s\) 'squad'"):
        read_config(config).check()


def test_a_team_filter_keeps_only_that_teams_agents(teams_file: Path):
    mapping = read(teams_file)
    logs = make_logs(ROWS)
    alpha = weekly(logs, "2026-W13", "UTC", min_volume=1, team_map=mapping, teams=["Alpha"])
    assert alpha.handled == 3 and set(alpha.agents["agent_id"]) == {"a1", "a2"}
    assert alpha.summary["aht_s"].item() == pytest.approx(200.0)
    assert alpha.params["teams"] == ["Alpha"]
    # last week of the same team only: a1's 900 s interaction
    assert alpha.previous_summary["handled"].item() == 1
    none = weekly(logs, "2026-W13", "UTC", min_volume=1, team_map=mapping, teams=[UNASSIGNED])
    assert set(none.agents["agent_id"]) == {"a9"}
    both = weekly(logs, "2026-W13", "UTC", team_map=mapping, teams=["Beta", UNASSIGNED])
    assert both.handled == 2
    # no filter: no teams parameter in the footer, as before
    assert "teams" not in weekly(logs, "2026-W13", "UTC", team_map=mapping).params


def test_a_team_filter_is_checked_against_the_mapping(sample_dir: Path, tmp_path: Path, capsys):
    teams = _sample_teams(sample_dir, tmp_path / "teams.csv")
    args = ["metrics", "summary", str(sample_dir), "--week", "2026-W13", "--format", "csv"]
    assert main([*args, "--team-map", str(teams), "--teams", "North"]) == 0
    north = pl.read_csv(capsys.readouterr().out.encode())["handled"].item()
    assert main([*args, "--team-map", str(teams), "--teams", "South,Unassigned"]) == 0
    rest = pl.read_csv(capsys.readouterr().out.encode())["handled"].item()
    assert main(args) == 0
    assert north + rest == pl.read_csv(capsys.readouterr().out.encode())["handled"].item()
    assert main([*args, "--team-map", str(teams), "--teams", "Nrth"]) == 2
    assert "unknown team(s) 'Nrth'" in capsys.readouterr().err
    assert main([*args, "--teams", "North"]) == 2
    assert "needs the teams mapping" in capsys.readouterr().err


def test_a_group_filtered_by_team_is_checked_with_the_config(sample_dir: Path, tmp_path: Path):
    from cxreports.config import read_config

    teams = _sample_teams(sample_dir, tmp_path / "teams.csv")
    config = tmp_path / "cx.toml"
    base = (
        _config_head(sample_dir)
        + "[[groups]]\nname = 'north'\nto = ['a@example.com']\nteams = ['North']\n"
    )
    config.write_text(base + f"[report]\nteam_map = '{teams}'\n")
    assert read_config(config).check().groups[0].teams == ("North",)
    # found as --teams finds it: case ignored
    config.write_text(base.replace("'North'", "'NORTH'") + f"[report]\nteam_map = '{teams}'\n")
    read_config(config).check()
    config.write_text(base)
    with pytest.raises(ParameterError, match=r"#1 \(north\): teams filters by team and needs"):
        read_config(config).check()
    config.write_text(base.replace("'North'", "'Nowhere'") + f"[report]\nteam_map = '{teams}'\n")
    with pytest.raises(ParameterError, match=r"unknown team\(s\) 'Nowhere'"):
        read_config(config).check()


@pytest.mark.slow
def test_a_team_lead_is_mailed_their_teams_reports_only(sample_dir: Path, tmp_path, smtp_server):
    import email
    import email.policy

    from cxreports.config import read_config
    from cxreports.job import run_weekly

    teams = _sample_teams(sample_dir, tmp_path / "teams.csv")
    server = smtp_server()
    config = tmp_path / "cx.toml"
    config.write_text(
        f"[source]\npath = '{sample_dir}'\n"
        f"[report]\ntz = 'Asia/Singapore'\nout = '{tmp_path / 'out'}'\n"
        f"team_map = '{teams}'\nformats = ['html']\n"
        f"[smtp]\nhost = '{server.host}'\nport = {server.port}\nsecurity = 'none'\n"
        "from = 'r@example.com'\n"
        "[[groups]]\nname = 'north'\nto = ['north-lead@example.com']\nteams = ['North']\n"
    )
    run_weekly(read_config(config), "2026-W13")
    (message,) = [email.message_from_bytes(m.content, policy=email.policy.default)
                  for m in server.inbox.messages]  # fmt: skip
    assert message["Subject"].endswith("· North")
    part = next(
        p for p in message.iter_attachments() if p.get_filename() == "agent-performance.html"
    )
    assert part.get_content_charset() == "utf-8"  # names such as Tomás read as written
    agent_report = part.get_content()
    table = agent_report[agent_report.index('id="Agents"') : agent_report.index('id="Leaderboard"')]
    table = unicodedata.normalize("NFC", html.unescape(table))  # O&#x27;Connor as O'Connor
    from cxreports.report import prepare

    _, week = prepare(sample_dir, "2026-W13", "Asia/Singapore", team_map=teams)
    by_team = {
        unicodedata.normalize("NFC", n): t
        for n, t in week.agents.select("agent_name", "team").rows()
        if n
    }
    north = {n for n, t in by_team.items() if t == "North"}
    others = set(by_team) - north
    assert north and others
    assert [n for n in north if n not in table] == []  # every North agent of the week
    assert not [n for n in others if n in table]  # and nobody from another team
    assert "teams: North" in agent_report


def test_the_teams_can_be_written_in_the_config_instead(sample_dir: Path, tmp_path: Path):
    from cxreports.config import read_config
    from cxreports.job import _team_map

    config = tmp_path / "cx.toml"
    base = (
        _config_head(sample_dir) + f"[report]\nout = '{tmp_path / 'out'}'\n"
        "[[groups]]\nname = 'north'\nto = ['a@example.com']\nteams = ['North']\n"
    )
    inline = "[[teams]]\nname = 'North'\nlead = 'Dana'\nagents = ['a1', 'a2']\n"
    config.write_text(base + inline + "[[teams]]\nname = 'South'\nagents = ['a3']\n")
    checked = read_config(config).check()
    written = _team_map(checked, tmp_path / "out")
    assert written is not None
    assert read(written).members.rows() == [
        ("a1", "North", "Dana"), ("a2", "North", "Dana"), ("a3", "South", None),
    ]  # fmt: skip
    config.write_text(base + inline + "[[teams]]\nname = 'South'\nagents = ['a1']\n")
    with pytest.raises(ParameterError, match="agent 'a1' is in two teams"):
        read_config(config)
    teams_file = tmp_path / "teams.csv"
    teams_file.write_text(TEAMS_CSV)
    config.write_text(base.replace("[report]\n", f"[report]\nteam_map = '{teams_file}'\n") + inline)
    with pytest.raises(ParameterError, match="team_map or as \\[\\[teams\\]\\], not both"):
        read_config(config)


def _config_head(sample_dir: Path) -> str:
    """The source and SMTP sections every config of these tests shares."""
    return f"[source]\npath = '{sample_dir}'\n[smtp]\nhost = 'localhost'\nfrom = 'r@example.com'\n"
