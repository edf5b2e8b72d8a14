"""Business hours: the calendar is checked whole, and business time is worked out by hand across
nights, weekends, holidays and daylight-saving changes (Europe/Berlin)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxreports.exceptions import ParameterError
from cxreports.hours import from_config
from cxreports.metrics import weekly
from cxreports.metrics.business_time import COLUMNS, add_columns
from tests.metrics_fixtures import make_logs, utc

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = {"mon-fri": "09:00-18:00", "holidays": ["2026-04-03"]}  # Good Friday


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def measured(hours: dict, rows: list[tuple], tz: str = "Europe/Berlin") -> list[tuple]:
    """(first response business s, resolution business s, started outside) of each row of
    (start, first response s, resolution s[, queue])."""
    frame = pl.DataFrame(
        {
            "started_at": [r[0] for r in rows],
            "first_response_time_s": [r[1] for r in rows],
            "resolution_time_s": [r[2] for r in rows],
            "queue_name": [r[3] if len(r) > 3 else "Support" for r in rows],
        },
        schema={
            "started_at": pl.Datetime("us", "UTC"),
            "first_response_time_s": pl.Float64,
            "resolution_time_s": pl.Float64,
            "queue_name": pl.String,
        },
    )
    return add_columns(frame, from_config(hours), tz).select(COLUMNS).rows()


H = 3600.0


@pytest.mark.parametrize(
    ("case", "start", "response_s", "business_s", "outside"),
    [
        # Monday 17:30 to Tuesday 09:30: half an hour each side of the night
        ("a night", berlin(2026, 3, 23, 17, 30), 16 * H, 1 * H, False),
        # Friday 17:00 to Monday 10:00: an hour on Friday, an hour on Monday
        ("a weekend", berlin(2026, 3, 20, 17, 0), 65 * H, 2 * H, False),
        # Thursday 2 April 17:00 to Monday 6 April 10:00: Good Friday is closed
        ("a holiday", berlin(2026, 4, 2, 17, 0), (3 * 24 + 17) * H, 2 * H, False),
        # Friday 27 March 17:00 CET to Monday 30 March 10:00 CEST: the clocks went forward on
        # Sunday, so Monday opens at 07:00 UTC; 64 real hours, 2 business hours
        ("a DST change", berlin(2026, 3, 27, 17, 0), 64 * H, 2 * H, False),
        # Saturday 10:00 to 13:00: closed throughout
        ("outside, all of it", berlin(2026, 3, 21, 10, 0), 3 * H, 0.0, True),
        # Sunday 20:00 to Monday 10:00: starts outside, an hour inside
        ("starts outside", berlin(2026, 3, 22, 20, 0), 14 * H, 1 * H, True),
        ("opening minute", berlin(2026, 3, 23, 9, 0), 60.0, 60.0, False),
        ("closing minute", berlin(2026, 3, 23, 18, 0), 60.0, 0.0, True),
        ("within a day", berlin(2026, 3, 23, 10, 0), 754.5, 754.5, False),
    ],
)
def test_business_time_by_hand(
    case: str, start: datetime, response_s: float, business_s: float, outside: bool
) -> None:
    [(frt, resolution, started_outside)] = measured(OFFICE, [(start, response_s, response_s)])
    assert frt == pytest.approx(business_s, abs=1e-6), case
    assert resolution == pytest.approx(business_s, abs=1e-6), case
    assert started_outside is outside, case


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 5.0), (date(2026, 10, 25), 7.0), (date(2026, 3, 22), 6.0)],
)
def test_a_day_with_a_dst_change_opens_for_its_real_length(day: date, hours: float) -> None:
    # Sunday 00:00-06:00 local: an hour shorter in spring, an hour longer in autumn
    start = berlin(day.year, day.month, day.day, 0, 0)
    [(frt, _, outside)] = measured({"sun": "00:00-06:00"}, [(start, 9 * H, None)])
    assert frt == pytest.approx(hours * H) and outside is False
    assert _ is None  # no resolution time: no business one either


def test_several_intervals_and_a_queue_with_its_own_hours() -> None:
    hours = {
        "mon-fri": "09:00-12:00, 13:00-17:00",
        "queues": {"Priority": {"mon-sun": "00:00-24:00"}},
    }
    start = berlin(2026, 3, 23, 11, 0)  # Monday; lunch 12:00-13:00 is closed
    rows = measured(hours, [(start, 3 * H, 30 * H, "Support"), (start, 3 * H, 30 * H, "Priority")])
    # Support: 11-12 and 13-14 (2 h); 30 h: Mon 11-12, 13-17, Tue 09-12, 13-17 = 12 h
    assert rows[0] == pytest.approx((2 * H, 12 * H, False))
    # Priority is open around the clock: business time is calendar time
    assert rows[1] == pytest.approx((3 * H, 30 * H, False))
    # a queue calendar keeps the default's holidays unless it names its own
    cal = from_config({**OFFICE, "queues": {"Priority": {"sat": "10:00-12:00"}}})
    assert cal.calendar("Priority").holidays == (date(2026, 4, 3),)


def test_a_week_of_holidays_only_and_an_empty_frame() -> None:
    [(frt, _, outside)] = measured(
        {"mon": "09:00-17:00", "holidays": ["2026-03-23"]}, [(berlin(2026, 3, 23, 10), H, None)]
    )
    assert (frt, outside) == (0.0, True)
    assert measured(OFFICE, []) == []


def _reference(start: datetime, seconds: float, hours: dict, tz: str, queue: str) -> float:
    """Business seconds by walking every local day: slow, plain, and independent."""
    cal = from_config(hours).calendar(queue)
    zone = ZoneInfo(tz)
    end = start + timedelta(seconds=seconds)
    total = 0.0
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date() + timedelta(days=1):
        if day not in cal.holidays:
            for a, b in cal.days[day.weekday()]:
                midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
                lo = (midnight + timedelta(seconds=a)).astimezone(UTC)
                hi = (midnight + timedelta(seconds=b)).astimezone(UTC)
                total += max(0.0, (min(hi, end) - max(lo, start)).total_seconds())
        day += timedelta(days=1)
    return total


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    starts=st.lists(
        st.tuples(
            st.integers(0, 400 * 24 * 60),  # minutes from 2026-01-01
            st.floats(0, 20 * 86400, allow_nan=False),
            st.sampled_from(["Support", "Night", "Weekend"]),
        ),
        min_size=1,
        max_size=20,
    ),
    hours=st.sampled_from(
        [
            OFFICE,
            {"mon-sat": "08:00-12:00, 12:30-20:00", "sun": "10:00-14:00"},
            {"mon-sun": "00:00-24:00"},
            {"tue": "02:00-03:30", "sun": "01:30-02:45", "holidays": ["2026-03-29"]},
        ]
    ),
    queues=st.sampled_from(
        [
            {},
            {"Night": {"mon-sun": "22:00-24:00", "holidays": ["2026-03-29"]}},
            {"Night": {"mon-sun": "00:00-06:00"}, "Weekend": {"sat-sun": "09:00-17:00"}},
        ]
    ),
    tz=st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Singapore"]),
)
def test_matches_a_day_by_day_reference(starts: list, hours: dict, queues: dict, tz: str) -> None:
    # queues with their own hours are measured in one search with the default's: each must
    # still match its own calendar, walked day by day
    hours = {**hours, "queues": queues}
    base = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [(base + timedelta(minutes=m), s, None, q) for m, s, q in starts]
    for (start, seconds, _, queue), (business, _, outside) in zip(
        rows, measured(hours, rows, tz), strict=True
    ):
        assert business == pytest.approx(_reference(start, seconds, hours, tz, queue), abs=1e-3)
        assert 0.0 <= business <= seconds + 1e-6
        assert outside is (_reference(start, 1e-3, hours, tz, queue) == 0.0)


def test_weekly_adds_business_figures_only_when_asked() -> None:
    rows = [
        # Monday 23 March (UTC report): 10:00, answered in 10 minutes, within hours
        {"agent_id": "a1", "started_at": utc(2026, 3, 23, 10), "first_response_time_s": 600.0},
        # Friday 17:30, answered Monday 09:10: 30 + 10 business minutes
        {
            "agent_id": "a1",
            "started_at": utc(2026, 3, 27, 17, 30),
            "first_response_time_s": 229200.0,
        },
        # Saturday 11:00, answered at 11:01: outside hours, no business time
        {"agent_id": "a2", "started_at": utc(2026, 3, 28, 11), "first_response_time_s": 60.0},
    ]
    logs = make_logs(rows)
    plain = weekly(logs, "2026-W13", "UTC")
    assert not set(plain.summary.columns) & {"frt_business_mean_s", "outside_hours"}
    assert "frt_business_mean_s" not in plain.kpis["metric"].to_list()
    hours = from_config({"mon-fri": "09:00-18:00", "frt_clock": "business"})
    m = weekly(logs, "2026-W13", "UTC", business_hours=hours, frt_target_s=900)
    s = m.summary.row(0, named=True)
    assert s["frt_business_mean_s"] == pytest.approx((600 + 2400 + 0) / 3)
    assert s["frt_business_median_s"] == pytest.approx(600)
    assert (s["outside_hours"], s["outside_hours_rate"]) == (1, pytest.approx(1 / 3))
    # the proxy on business time: 600 s, 2,400 s and 0 s against 900 s
    assert s["frt_within_target_rate"] == pytest.approx(2 / 3)
    assert plain.summary["frt_within_target_rate"].item() == pytest.approx(1 / 3)  # 60 of 3 on 60 s
    agents = dict(m.agents.select("agent_id", "outside_hours").iter_rows())
    assert agents == {"a1": 0, "a2": 1}
    assert m.rows.filter(pl.col("agent_id") == "a2")["started_outside_hours"].to_list() == [True]
    assert "frt_business_mean_s" in m.kpis["metric"].to_list()
    assert "Mon–Fri 09:00–18:00 (UTC)" in m.params["business_hours"]
    # the first-response chart shows the clock the target is measured on
    assert m.first_response[0] == "first_response_business_s"
    assert plain.first_response[0] == "first_response_time_s"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"monday": "09:00-17:00"}, "unknown key 'monday'"),
        ({"mon": "9-17"}, "'9-17' is not HH:MM-HH:MM"),
        ({"mon": "17:00-09:00"}, "must end after it starts"),
        ({"mon": "09:00-24:30"}, "is not HH:MM-HH:MM"),
        ({"mon": "09:00-13:00, 12:00-17:00"}, "the intervals overlap"),
        ({"mon-fri": "09:00-17:00", "fri": "10:00-12:00"}, "fri is given twice"),
        ({"fri-mon": "09:00-17:00"}, "unknown key 'fri-mon'"),
        ({"mon": "closed"}, "no opening hours on any day"),
        ({"mon": 9}, 'must be text such as "09:00-17:00"'),
        ({"mon": "09:00-17:00", "holidays": ["25/12/2026"]}, "'25/12/2026' is not a date"),
        ({"mon": "09:00-17:00", "holidays": "2026-12-25"}, "must be a list of dates"),
        ({"mon": "09:00-17:00", "frt_clock": "wall"}, "frt_clock must be 'calendar' or"),
        ({"mon": "09:00-17:00", "queues": {"Billing": {"mon": "x"}}}, '.queues."Billing"] mon'),
        ("09:00-17:00", "must be a table of weekdays"),
    ],
)
def test_bad_calendars_are_refused_in_one_line(raw: object, expected: str) -> None:
    with pytest.raises(ParameterError) as err:
        from_config(raw)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_the_parameters_round_trip() -> None:
    hours = from_config(
        {
            "mon-fri": "09:00-12:00, 12:00-17:00",  # touching intervals are one
            "sat": ["10:00-14:00"],
            "holidays": [date(2026, 12, 25), "2026-12-26"],
            "frt_clock": "business",
            "queues": {"Priority": {"mon-sun": "00:00-24:00"}},
        }
    )
    assert hours.default.days[0] == ((9 * 3600, 17 * 3600),)
    assert from_config(hours.as_parameters()) == hours
    assert hours.default.text() == "Mon–Fri 09:00–17:00; Sat 10:00–14:00"


def _example_hours() -> str:
    """The commented [business_hours] example of ``cxreports config``, uncommented."""
    from cxreports.config import EXAMPLE

    lines = EXAMPLE.splitlines()
    start = lines.index("# [business_hours]")
    block = []
    for line in lines[start:]:
        if not line.strip():
            break
        block.append(line.removeprefix("# "))
    return "\n".join(block) + "\n"


def test_the_config_example_of_business_hours_reads(tmp_path: Path) -> None:
    from cxreports.config import read_config

    config = tmp_path / "cx.toml"
    config.write_text("[report]\ntz = 'Europe/Berlin'\n" + _example_hours())
    hours = read_config(config).business_hours
    assert hours is not None and hours.frt_clock == "business"
    assert hours.default.text() == "Mon–Fri 08:30–12:30, 13:30–18:00; Sat 10:00–14:00"
    assert hours.calendar("Priority Support").holidays == hours.default.holidays != ()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[business_hours]\nmon = '9-5'\n", "[business_hours] mon: '9-5' is not HH:MM-HH:MM"),
        ("[business_hours]\nfrt_clock = 'business'\n", "[business_hours]: no opening hours"),
        (
            "[[targets]]\nmetric = 'frt_business_mean_s'\nmax = 60\n",
            "a business-time figure needs [business_hours]",
        ),
    ],
)
def test_a_bad_business_hours_config_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    from cxreports.config import read_config

    config = tmp_path / "cx.toml"
    config.write_text(text)
    with pytest.raises(ParameterError) as err:
        read_config(config)
    assert problem in str(err.value) and str(config) in str(err.value)


def test_metrics_take_a_business_hours_file(sample_dir: Path, tmp_path: Path, capsys) -> None:
    from cxreports.cli import main

    hours = tmp_path / "hours.toml"
    hours.write_text("[business_hours]\nmon-fri = '09:00-18:00'\n")
    args = ["metrics", "summary", str(sample_dir), "--week", "2026-W13", "--format", "csv"]
    assert main([*args, "--business-hours", str(hours)]) == 0
    summary = pl.read_csv(capsys.readouterr().out.encode())
    frt, business = summary["frt_mean_s"].item(), summary["frt_business_mean_s"].item()
    assert 0 < business < frt  # weekends and nights no longer count
    assert 0 < summary["outside_hours"].item() < summary["handled"].item()
    # a queue with its own hours must be one of the data's queues
    hours.write_text("[business_hours]\nmon-fri = '09:00-18:00'\n[business_hours.queues.Bilin]\n")
    hours.write_text(hours.read_text() + "mon = '09:00-10:00'\n")
    assert main([*args, "--business-hours", str(hours)]) == 2
    assert "unknown queue 'Bilin'" in capsys.readouterr().err
    # a business-time target without business hours
    assert main([*args, "--target", "frt_business_median_s <= 60"]) == 2
    assert "needs the business hours" in capsys.readouterr().err
    assert main([*args, "--business-hours", str(tmp_path / "none.toml")]) == 2
    assert "no such business-hours file" in capsys.readouterr().err
    # a weekly config without hours: one line, not an error for each of its tables
    assert main(["config"]) == 0
    (tmp_path / "weekly.toml").write_text(capsys.readouterr().out)
    assert main([*args, "--business-hours", str(tmp_path / "weekly.toml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    said = f"{tmp_path / 'weekly.toml'}: a weekly config with no [business_hours] table"
    assert err == [f"cxreports metrics: error: {said}"]


@pytest.mark.slow
def test_the_weekly_job_shows_business_hours(
    sample_dir: Path, tmp_path: Path, smtp_server, rendered
) -> None:
    import email
    import email.policy

    from cxreports.config import read_config
    from cxreports.job import run_weekly
    from cxreports.report import prepare

    server = smtp_server()
    config = tmp_path / "cx.toml"
    config.write_text(
        f"[source]\npath = '{sample_dir}'\n"
        f"[report]\ntz = 'Asia/Singapore'\nout = '{tmp_path / 'out'}'\nformats = ['html']\n"
        f"[smtp]\nhost = '{server.host}'\nport = {server.port}\nsecurity = 'none'\n"
        "from = 'r@example.com'\n"
        "[[groups]]\nname = 'all'\nto = ['lead@example.com']\n"
        "[[targets]]\nmetric = 'frt_business_median_s'\nmax = 3600\n"
        "[business_hours]\nmon-fri = '09:00-18:00'\nholidays = ['2026-03-27']\n"
    )
    run_weekly(read_config(config), "2026-W13")
    _, m = prepare(
        sample_dir, "2026-W13", "Asia/Singapore",
        business_hours={"mon-fri": "09:00-18:00", "holidays": ["2026-03-27"]},
    )  # fmt: skip
    outside, handled = m.summary["outside_hours"].item(), m.summary["handled"].item()
    (message,) = [email.message_from_bytes(x.content, policy=email.policy.default)
                  for x in server.inbox.messages]  # fmt: skip
    body = message.get_body(("html",)).get_content()
    assert "First response, business hours (mean)" in body
    assert "Started outside hours" in body
    for name in ("agent-performance.html", "csat-sla.html"):
        part = next(p for p in message.iter_attachments() if p.get_filename() == name)
        page = part.get_content()
        section = page[page.index('id="Business-hours"') :]
        assert "closed on Fri 27 Mar" in section
        assert f"{outside:,} of {handled:,} interactions" in section
        assert "First response, business hours, median ≤ 1:00:00" in page  # the target
    # without business hours the reports are as before
    for written in rendered.values():
        page = written["html"].read_text()
        assert 'id="Business-hours"' not in page and "outside hours" not in page
        assert "First response, business hours" not in page


def test_the_readmes_operating_model_config_reads(tmp_path: Path, monkeypatch) -> None:
    import re

    from cxreports.config import read_config

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    [block] = [b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "[[targets]]" in b]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "teams.csv").write_text("agent_id,team,lead\na1,North,Dana\n")
    (tmp_path / "cx.toml").write_text(re.sub(r"(?m)^  ", "", block))
    config = read_config(tmp_path / "cx.toml")
    assert config.business_hours is not None and len(config.target_tables) == 2
    assert config.groups[0].teams == ("North",) and config.scorecards is True
    assert config.business_hours.default.holidays[-1] == date(2026, 12, 26)
