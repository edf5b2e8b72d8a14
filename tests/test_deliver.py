"""The email of a week: the digest body, the attachments, and delivery to a real SMTP server."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
from pathlib import Path

import pytest

from cxreports import ParameterError, load, weekly
from cxreports.cli import main
from cxreports.deliver import send_week
from cxreports.digest import build

from .metrics_fixtures import make_logs, utc

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_digest_is_mail_safe_small_and_escaped():
    rows = [{"agent_id": "A", "agent_name": "<b>Zed</b>", "started_at": utc(2026, 3, 24, 1, i)}
            for i in range(25)]  # fmt: skip
    body = build(weekly(make_logs(rows), "2026-W13", "UTC"))
    assert body.subject == "Weekly contact-center report · 2026-W13 (UTC)"
    assert len(body.html.encode()) < 100_000
    assert not re.search(r"<svg|<script|data:", body.html)
    assert "&lt;b&gt;Zed&lt;/b&gt;" in body.html and "<b>Zed</b>" not in body.html
    assert set(re.findall(r"cid:(\w+)", body.html)) == set(body.images) == {"daily", "trend"}
    assert all(png.startswith(b"\x89PNG") for png in body.images.values())
    assert "Handled: 25" in body.text
    assert "No customer answered a CSAT survey" in body.text


def test_digest_of_a_filtered_scope_names_it(sample_dir):
    m = weekly(load(sample_dir), "2026-W13", "UTC", queues=["Billing"])
    assert build(m).subject.endswith("· Billing")


@pytest.mark.slow
def test_dry_run_writes_a_complete_eml(rendered, capsys):
    week = rendered["agent-performance"]["html"].parent
    assert main(["send", str(week), "--to", "lead@example.com", "--dry-run"]) == 0
    eml = week / "email" / "message.eml"
    assert f"wrote {eml}" in capsys.readouterr().out
    message = _parse(eml.read_bytes())
    assert message["To"] == "lead@example.com"
    assert message["Subject"] == "Weekly contact-center report · 2026-W13 (Asia/Singapore)"
    html = message.get_body(("html",)).get_content()
    assert len(html.encode()) < 100_000
    cids = {p["Content-ID"].strip("<>") for p in message.walk() if p["Content-ID"]}
    assert set(re.findall(r"cid:(\w+)", html)) == cids
    attached = {p.get_filename(): p.get_payload(decode=True) for p in message.iter_attachments()}
    for name in ("agent-performance", "csat-sla"):
        for suffix in (".pdf", ".html"):
            assert attached[name + suffix] == (week / f"{name}{suffix}").read_bytes()


@pytest.mark.slow
def test_send_delivers_to_a_real_smtp_server(rendered, smtp_server):
    server = smtp_server()
    week = rendered["csat-sla"]["html"].parent
    message_id = send_week(week, server.settings(), ["a@example.com", "b@example.com"])
    [received] = server.inbox.messages
    assert received.rcpt_tos == ["a@example.com", "b@example.com"]
    assert _parse(received.content)["Message-ID"] == message_id


@pytest.mark.slow
def test_a_half_made_week_is_never_sent(rendered, smtp_server, tmp_path):
    week = tmp_path / "2026-W13"
    shutil.copytree(rendered["csat-sla"]["html"].parent, week)
    (week / "csat-sla.pdf").unlink()
    (week / "agent-performance.failed.ipynb").write_text("{}")
    server = smtp_server()
    with pytest.raises(ParameterError, match="not a complete report week, nothing sent") as info:
        send_week(week, server.settings(), ["a@example.com"])
    assert "csat-sla.pdf is missing" in str(info.value)
    assert "agent-performance failed to render" in str(info.value)
    assert server.inbox.messages == []


def test_a_week_that_was_never_rendered_says_so(tmp_path: Path, capsys):
    code = main(["send", str(tmp_path), "--to", "a@example.com", "--dry-run"])
    assert code == 2
    assert "no email digest found" in capsys.readouterr().err
