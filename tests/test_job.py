"""End to end: a CX API on 127.0.0.1 -> cxreports weekly -> an SMTP server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import fcntl
import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from cxreports import render
from cxreports.cli import main
from cxreports.config import Config, Group, read_config
from cxreports.exceptions import JobError, OutputError, ParameterError, ReportError
from cxreports.job import LOCK_NAME, _send_key, fetch_span, run_weekly
from cxreports.period import Week
from cxreports.report import NOTEBOOKS
from cxreports.sample import generate

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TOKEN = "api-t0ken-9f8e"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A CX API serving generated pages (any date range) to the right bearer token only."""
    folder = tmp_path_factory.mktemp("api")
    pages = {i + 1: p.read_bytes() for i, p in enumerate(generate(folder, records=900, weeks=3))}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = dict(parse_qsl(urlsplit(self.path).query))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, b'{"error": "unauthorized"}')
            else:
                self._send(200, pages.get(int(query.get("page", "1")), b"{}"))

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/cx-logs"
    server.shutdown()
    server.server_close()


def _config(tmp_path: Path, api_url: str, smtp, extra: str = "", reports: str = "") -> Path:
    path = tmp_path / "cxreports.toml"
    path.write_text(
        f"""
[source]
base_url = "{api_url}"
raw = "{tmp_path / "raw"}"
page_size = 100

[report]
tz = "UTC"
out = "{tmp_path / "out"}"
{extra}

[smtp]
host = "{smtp.host}"
port = {smtp.port}
security = "none"
from = "CX Reports <reports@example.com>"

[[groups]]
name = "managers"
to = ["head@example.com", "deputy@example.com"]

[[groups]]
name = "billing"
to = ["billing@example.com"]
queues = ["Billing"]

[alerts]
operator = "ops@example.com"
{reports}"""
    )
    return path


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


@pytest.mark.slow
def test_weekly_fetches_renders_and_mails_each_group_once(
    tmp_path, api, smtp_server, monkeypatch, capsys
):
    monkeypatch.setenv("CXREPORTS_API_TOKEN", TOKEN)
    server = smtp_server()
    # a team's own notebook goes along with the built-in reports, filtered the same way
    team = f'\n[[reports]]\nnotebook = "{NOTEBOOKS / "channel_review.ipynb"}"\n'
    config = _config(tmp_path, api, server, reports=team)
    assert main(["weekly", "--config", str(config), "--week", "2026-W13"]) == 0

    arrived = {tuple(m.rcpt_tos): _parse(m.content) for m in server.inbox.messages}
    assert set(arrived) == {("head@example.com", "deputy@example.com"), ("billing@example.com",)}
    billing = arrived[("billing@example.com",)]
    assert billing["Subject"].endswith("2026-W13 (UTC) · Billing")
    for message in arrived.values():
        names = sorted(p.get_filename() for p in message.iter_attachments())
        assert names == ["agent-performance.html", "agent-performance.pdf",
                         "channel-review.html", "channel-review.pdf",
                         "csat-sla.html", "csat-sla.pdf"]  # fmt: skip
        assert len(message.get_body(("html",)).get_content().encode()) < 100_000
    out = tmp_path / "out"
    for group in ("managers", "billing"):
        for name in ("agent-performance", "csat-sla"):
            assert (out / group / "2026-W13" / f"{name}.pdf").stat().st_size > 10_000
    assert "queues: Billing" in (out / "billing" / "2026-W13" / "csat-sla.html").read_text()
    assert "queues: Billing" in (out / "billing" / "2026-W13" / "channel-review.html").read_text()
    assert "queues:" not in (out / "managers" / "2026-W13" / "csat-sla.html").read_text()
    assert list((tmp_path / "raw").glob("*/page_*.json.gz"))

    log = capsys.readouterr().err
    assert "step=send INFO sent group billing" in log
    assert TOKEN not in log

    # a second run of the same week sends nothing and says why
    assert main(["weekly", "--config", str(config), "--week", "2026-W13"]) == 0
    assert len(server.inbox.messages) == 2
    assert "group managers already sent for 2026-W13; skipped" in capsys.readouterr().err


@pytest.mark.slow
def test_after_a_partial_refusal_a_rerun_mails_only_those_who_did_not_get_it(
    tmp_path, api, smtp_server, monkeypatch
):
    monkeypatch.setenv("CXREPORTS_API_TOKEN", TOKEN)
    server = smtp_server(refuse={"deputy@example.com"})
    config = _config(tmp_path, api, server, extra='formats = ["html"]')
    # a recipient written with a name: the log records the address, and a rerun looked it up
    # by the whole text, so head got the reports twice
    text = config.read_text().replace('"head@example.com"', '"Head Of CX <head@example.com>"')
    config.write_text(text)
    assert main(["weekly", "--config", str(config), "--week", "2026-W13"]) == 9
    got = [m.rcpt_tos for m in server.inbox.messages]
    assert ["head@example.com"] in got and ["deputy@example.com"] not in got

    server.inbox.refuse.clear()  # the mailbox exists now
    assert main(["weekly", "--config", str(config), "--week", "2026-W13"]) == 0
    after = [m.rcpt_tos for m in server.inbox.messages][len(got) :]
    assert ["deputy@example.com"] in after and [
        "head@example.com",
        "deputy@example.com",
    ] not in after
    received = [r for m in server.inbox.messages for r in m.rcpt_tos]
    assert received.count("head@example.com") == 1 and received.count("deputy@example.com") == 1
    assert received.count("billing@example.com") == 1

    # --resend sends again, to every group named in the config
    sent = len(server.inbox.messages)
    result = run_weekly(read_config(config), "2026-W13", resend=True)
    assert result.sent == ("managers", "billing")
    assert [m.rcpt_tos for m in server.inbox.messages][sent:] == [
        ["head@example.com", "deputy@example.com"],
        ["billing@example.com"],
    ]


@pytest.mark.slow
def test_a_failing_report_sends_no_report_and_tells_the_operator(
    tmp_path, api, smtp_server, monkeypatch, capsys
):
    monkeypatch.setenv("CXREPORTS_API_TOKEN", TOKEN)
    server = smtp_server()
    config = _config(tmp_path, api, server)

    def execute(notebook, parameters, output, **options):
        raise ReportError(f"{Path(notebook).name}: cell 4 failed: injected failure")

    monkeypatch.setattr(render, "execute_notebook", execute)
    code = main(["weekly", "--config", str(config), "--week", "2026-W13"])
    assert code == 9
    err = capsys.readouterr().err
    assert "step=render ERROR failed:" in err and "injected failure" in err
    [notice] = server.inbox.messages
    assert notice.rcpt_tos == ["ops@example.com"]
    assert "FAILED at render" in _parse(notice.content)["Subject"]
    assert not list((tmp_path / "out").rglob("*.pdf"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"min_volume": 0}, "[report] min_volume must be a whole number from 1"),
        ({"frt_target_s": -1}, "[report] frt_target_s must be a number of seconds above 0"),
        ({"csat_score_field": "room..x"}, "[report] csat_score_field must be a dotted path"),
        ({"formats": ()}, "[report] formats must be a list of one or more"),
        ({"to": ["head@example.com", "nobody"]}, "--to, address 2 must be an email"),
        ({"sender": "reports"}, "[smtp] from must be an email address"),
        ({"smtp_port": 0}, "[smtp] port must be a whole number from 1 to 65535"),
        ({"tz": "Mars/Olympus"}, "[report] tz must be an IANA time zone"),
    ],
)
def test_a_bad_setting_stops_the_job_before_it_fetches_or_renders(
    tmp_path, api, smtp_server, changes, message
):
    # thresholds used to fail inside the notebooks, after the fetch, at step render (exit 9)
    server = smtp_server()
    config = read_config(_config(tmp_path, api, server)).with_overrides(**changes)
    with pytest.raises(ParameterError, match=re.escape(message)):
        run_weekly(config, "2026-W13")
    assert not (tmp_path / "raw").exists() and not (tmp_path / "out").exists()
    assert server.inbox.messages == []


@pytest.mark.slow
def test_a_job_that_renders_only_pdfs_mails_the_pdfs(tmp_path, api, smtp_server, monkeypatch):
    # it used to render every group and then stop at the send: "agent-performance.html is
    # missing", although the config asked for no HTML
    monkeypatch.setenv("CXREPORTS_API_TOKEN", TOKEN)
    server = smtp_server()
    config = _config(tmp_path, api, server, extra='formats = ["pdf"]')
    assert main(["weekly", "--config", str(config), "--week", "2026-W13"]) == 0
    assert len(server.inbox.messages) == 2
    for sent in server.inbox.messages:
        names = sorted(p.get_filename() for p in _parse(sent.content).iter_attachments())
        assert names == ["agent-performance.pdf", "csat-sla.pdf"]
    assert not [p for p in (tmp_path / "out").rglob("*.html") if p.parent.name != "email"]


def test_a_login_without_its_password_stops_the_job_before_it_fetches_or_renders(
    tmp_path, api, smtp_server, monkeypatch
):
    # it used to fetch and render every group, then fail at step send with this message
    monkeypatch.delenv("CXREPORTS_SMTP_PASSWORD", raising=False)
    server = smtp_server()
    config = read_config(_config(tmp_path, api, server)).with_overrides(smtp_user="reports")
    message = "SMTP user 'reports' is set but the environment variable CXREPORTS_SMTP_PASSWORD"
    with pytest.raises(JobError, match=re.escape(message)):
        run_weekly(config, "2026-W13")
    assert not (tmp_path / "raw").exists() and not (tmp_path / "out").exists()
    assert server.inbox.messages == []


def test_a_week_the_data_does_not_reach_is_never_mailed(tmp_path, smtp_server, sample_dir):
    # a stale source or a mistyped week once mailed every group reports of 0 interactions
    server = smtp_server()
    config = read_config(_config(tmp_path, "http://unused", server)).with_overrides(
        source_path=str(sample_dir), base_url=""
    )
    # a week missing between weeks of data (the export lost it) is refused as well
    gap = tmp_path / "gap"
    gap.mkdir()
    for page in sorted(sample_dir.glob("*.json")):
        data = json.loads(page.read_text())
        records = data["cxLogs"]["data"]
        week = {f"2026-03-{day:02d}" for day in range(9, 16)}  # W11 in UTC
        data["cxLogs"]["data"] = [r for r in records if r["startedDate"][:10] not in week]
        (gap / page.name).write_text(json.dumps(data))
    with pytest.raises(JobError, match="no interaction started in week 2026-W11 "):
        run_weekly(config.with_overrides(source_path=str(gap)), "2026-W11")
    with pytest.raises(
        JobError,
        match=r"no interaction started in week 2026-W20 \(UTC\); the data runs from 2026-01-",
    ):
        run_weekly(config, "2026-W20")
    assert not (tmp_path / "out" / "managers").exists()
    assert [m.rcpt_tos for m in server.inbox.messages] == [["ops@example.com"]] * 2  # told, only


@pytest.mark.parametrize("week", ["2999-W01", "3000-W01"])
def test_a_week_that_has_not_started_or_is_out_of_range_stops_the_job_before_any_work(
    tmp_path, api, smtp_server, week
):
    config = read_config(_config(tmp_path, api, smtp_server()))
    with pytest.raises(ParameterError, match=f"week '?{week}'? (has not started|is out of range)"):
        run_weekly(config, week)
    assert not (tmp_path / "raw").exists() and not (tmp_path / "out").exists()


def test_an_out_folder_that_is_a_file_stops_the_job_with_one_error(tmp_path, api, smtp_server):
    server = smtp_server()
    (tmp_path / "out").write_text("not a folder")
    config = read_config(_config(tmp_path, api, server))
    with pytest.raises(OutputError, match="a file is in the way where a folder is needed"):
        run_weekly(config, "2026-W13")
    assert not (tmp_path / "raw").exists()


def test_a_second_run_while_one_holds_the_lock_does_not_start(tmp_path, api, smtp_server):
    server = smtp_server()
    config = read_config(_config(tmp_path, api, server))
    out = Path(config.out)
    out.mkdir(parents=True)
    with open(out / LOCK_NAME, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(JobError, match="another weekly run holds"):
            run_weekly(config, "2026-W13")
    assert server.inbox.messages == []


def test_a_misspelt_group_filter_stops_the_job_before_any_report_with_the_known_queues(
    tmp_path, api, smtp_server, monkeypatch, capsys
):
    # it used to render "No interactions were handled" for the group and mail it, exit 0
    monkeypatch.setenv("CXREPORTS_API_TOKEN", TOKEN)
    server = smtp_server()
    config = _config(tmp_path, api, server)
    config.write_text(config.read_text().replace('queues = ["Billing"]', 'queues = ["Biling"]'))
    code = main(["weekly", "--config", str(config), "--week", "2026-W13"])
    assert code == 2
    err = capsys.readouterr().err
    assert "step=check ERROR failed: group billing: unknown queue 'Biling': the source has " in err
    assert "Billing, Returns & Refunds, Sales" in err
    [notice] = server.inbox.messages
    assert notice.rcpt_tos == ["ops@example.com"]
    assert "FAILED at check" in _parse(notice.content)["Subject"]
    assert not list((tmp_path / "out").rglob("*.ipynb"))


@pytest.mark.slow
def test_a_group_filter_that_differs_only_in_case_renders_the_queue_as_spelt_in_the_data(
    tmp_path, api, smtp_server, monkeypatch
):
    monkeypatch.setenv("CXREPORTS_API_TOKEN", TOKEN)
    server = smtp_server()
    config = _config(tmp_path, api, server, extra='formats = ["html"]')
    config.write_text(config.read_text().replace('queues = ["Billing"]', 'queues = ["BILLING"]'))
    config = read_config(config)
    run_weekly(replace(config, groups=config.groups[1:]), "2026-W13")
    [mail] = server.inbox.messages
    assert _parse(mail.content)["Subject"].endswith("· Billing")


def test_every_group_of_a_job_reads_the_snapshot_of_the_store_when_it_began(
    tmp_path, sample_dir, smtp_server, monkeypatch
):
    import shutil

    from cxreports import job
    from cxreports.store import snapshot, update

    pages, store = tmp_path / "pages", tmp_path / "store"
    shutil.copytree(sample_dir, pages)
    update([pages], store)
    began = snapshot(store).version
    server = smtp_server()
    config = tmp_path / "cxreports.toml"
    config.write_text(
        f"[source]\npath = '{store}'\n[report]\ntz = 'UTC'\nout = '{tmp_path / 'out'}'\n"
        f"[smtp]\nhost = '{server.host}'\nport = {server.port}\nsecurity = 'none'\n"
        "from = 'r@example.com'\n"
        "[[groups]]\nname = 'all'\nto = ['a@example.com']\n"
        "[[groups]]\nname = 'billing'\nto = ['b@example.com']\nqueues = ['Billing']\n"
    )
    planned = []

    def plan_then_load(*args, **kwargs):  # a load commits while the groups are planned
        planned.append(job_plan(*args, **kwargs))
        (pages / f"more-{len(planned)}.json").write_text('{"cxLogs": {"data": []}}')
        update([pages], store)
        return planned[-1]

    def stop(runs, **_):  # the runs as planned are all this test needs
        raise ReportError("stopped before rendering")

    job_plan = job.plan
    monkeypatch.setattr(job, "plan", plan_then_load)
    monkeypatch.setattr(job, "render_runs", stop)
    with pytest.raises(JobError, match="stopped before rendering"):
        run_weekly(read_config(config), "2026-W13")
    assert snapshot(store).version == began + 2  # both loads committed
    assert [run.parameters["as_of"] for run in planned] == [began, began]


@pytest.mark.parametrize("tz", ["UTC", "Asia/Singapore", "America/Los_Angeles"])
def test_the_weekly_fetch_reaches_every_day_the_reports_read(tz):
    # the reports read from the first week of the 8-week baseline (W05 for W13), from its
    # local Monday 00:00 (Sunday 16:00 UTC in Singapore), to 7 days after the week (FCR);
    # the fetch started at W06's Monday, so W05 was missing and the baseline was 7 weeks
    week = Week.parse("2026-W13", tz)
    since, until = fetch_span(week, today=date(2027, 1, 1))
    assert datetime.combine(since, time(), UTC) <= Week.parse("2026-W05", tz).start_utc
    assert datetime.combine(until, time(), UTC) >= week.end_utc + timedelta(days=7)
    assert (until - since).days <= (9 + 1) * 7 + 2  # nine weeks and the FCR week, no more
    # never past today
    assert fetch_span(week, today=date(2026, 3, 31))[1] == date(2026, 3, 31)


def test_a_send_to_the_to_option_is_logged_apart_from_the_groups():
    # `weekly --to me` was logged as the group "recipients": a config group of that name was
    # then skipped as sent, and so was a later `--to colleague`
    week = Week.parse("2026-W13")
    config = Config(groups=(Group("recipients", ("head@example.com",)),))
    me = config.with_overrides(to=["Me <ME@example.com>"]).groups[0]
    colleague = config.with_overrides(to=["colleague@example.com"]).groups[0]
    keys = {_send_key(week, g) for g in (config.groups[0], me, colleague)}
    assert len(keys) == 3
    assert _send_key(week, me) == "2026-W13/_to/me@example.com"
    # and no group of a config can take the name of the --to group (its folder too)
    config = Config(groups=(Group("_to", ("head@example.com",)),))
    assert any("name must be" in p for p in config.problems())


def test_a_token_that_cannot_go_in_a_header_fails_the_fetch_step_and_tells_the_operator(
    tmp_path, api, smtp_server, monkeypatch, capsys
):
    # it used to end in a traceback (exit 1) that printed the token, and told no one
    monkeypatch.setenv("CXREPORTS_API_TOKEN", "tok-SECRET\n-123")
    server = smtp_server()
    config = _config(tmp_path, api, server)

    code = main(["weekly", "--config", str(config), "--week", "2026-W13"])

    assert code == JobError.exit_code
    err = capsys.readouterr().err
    assert "step=fetch ERROR failed: the API token in CXREPORTS_API_TOKEN holds a line" in err
    assert "Traceback" not in err
    [notice] = server.inbox.messages
    assert notice.rcpt_tos == ["ops@example.com"]
    assert "FAILED at fetch" in _parse(notice.content)["Subject"]
    for text in (err, notice.content.decode()):
        assert "SECRET" not in text


def test_a_malformed_base_url_flag_is_named_as_the_flag(tmp_path, api, smtp_server, capsys):
    config = _config(tmp_path, api, smtp_server())

    code = main(
        ["weekly", "--config", str(config), "--base-url", "http://[::1", "--week", "2026-W13"]
    )

    assert code == ParameterError.exit_code
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("cxreports weekly: error: --base-url must be an http:// or https:// URL")
    assert line.endswith("it is not a valid URL (Invalid IPv6 URL)")
    assert not (tmp_path / "raw").exists() and not (tmp_path / "out").exists()


def test_pages_fetched_with_another_page_size_name_the_configs_raw_folder(
    tmp_path, api, smtp_server, monkeypatch, capsys
):
    # it said "or another --out folder": weekly's --out is where the reports go, not the pages
    monkeypatch.setenv("CXREPORTS_API_TOKEN", TOKEN)
    config = _config(tmp_path, api, smtp_server())
    since, until = fetch_span(Week.resolve("2026-W13", "UTC"))
    folder = tmp_path / "raw" / f"{since}_{until}"
    folder.mkdir(parents=True)
    manifest = {"base_url": api, "page_size": 50, "pages_done": [1], "complete": False}
    (folder / "manifest").write_text(json.dumps(manifest))

    code = main(["weekly", "--config", str(config), "--week", "2026-W13"])

    assert code == JobError.exit_code
    [line] = [x for x in capsys.readouterr().err.splitlines() if x.startswith("cxreports weekly:")]
    assert f"{folder} holds pages fetched with page_size 50, not 100" in line
    assert line.endswith("or another [source] raw folder") and "--out" not in line


def test_a_warning_logged_outside_the_jobs_adapter_is_a_line_not_a_logging_error(capsys):
    # fetch's "received 916 records, the API's total says 917" printed "--- Logging error ---"
    # and a traceback: the job's format names run and step, which fetch's records lack
    from cxreports.job import setup_logging

    setup_logging()
    logging.getLogger("cxreports.fetch").warning("received %d records, total %d", 916, 917)
    err = capsys.readouterr().err
    assert "Logging error" not in err
    assert "run=- step=- WARNING received 916 records, total 917" in err
