"""Report emails: message building and checks, and sending to a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import ssl
import struct
import subprocess
import traceback
import zlib
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from cxreports.exceptions import CxReportsError, MailError
from cxreports.mail import (
    SENT_LOG_NAME,
    EmailBody,
    SmtpSettings,
    already_sent,
    build_message,
    inline_css,
    record_sent,
    send,
    write_eml,
)

from .smtp_server import PASSWORD, SENDER, USER, Server, free_port

pytestmark = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning",
    "ignore:Session.login_data is deprecated:DeprecationWarning",
)

PASSWORD_ENV = "CXREPORTS_SMTP_PASSWORD"
TO = ["lead@example.com", "Ana Díaz <ana@example.org>"]


def tiny_png(red: int, green: int, blue: int) -> bytes:
    """A valid 1x1 RGB PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes([0, red, green, blue]))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def report_body(**changes: Any) -> EmailBody:
    fields: dict[str, Any] = {
        "subject": "CX weekly report — 2026-W14",
        "html": inline_css(
            "<html><head><style>h1 { color: #123456 } td { padding: 4px }</style></head><body>"
            "<h1>Week 14</h1><table><tr><td>Contacts</td><td>6,000</td></tr></table>"
            '<img src="cid:volume" alt="Volume"><img src="cid:sla.trend" alt="SLA">'
            "</body></html>"
        ),
        "text": "Week 14\nContacts: 6,000\nThe full report is attached.",
        "images": {"volume": tiny_png(255, 0, 0), "sla.trend": tiny_png(0, 0, 255)},
    }
    return EmailBody(**(fields | changes))


@pytest.fixture
def attachments(tmp_path: Path) -> list[Path]:
    pdf = tmp_path / "cx-weekly-2026-W14.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4 + b"\n%%EOF\n")
    html = tmp_path / "cx-weekly-2026-W14.html"
    html.write_text("<!doctype html><html><body><h1>Full report — ü</h1></body></html>\n")
    return [pdf, html]


def structure(message: EmailMessage) -> list[tuple[str, str | None, str | None, str | None]]:
    """Content type, Content-ID, disposition and filename of every part, in order."""
    return [
        (part.get_content_type(), part["Content-ID"], part.get_content_disposition(),
         part.get_filename())
        for part in message.walk()
    ]  # fmt: skip


def report_message(**body_changes: Any) -> EmailMessage:
    return build_message(report_body(**body_changes), sender=SENDER, to=TO)


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed certificate for 127.0.0.1 (key and certificate in one PEM file)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl command to make a test certificate; TLS paths not tested")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    pem = folder / "server.pem"
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    return pem


def server_tls(certificate: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate)
    return context


def trusting(certificate: Path) -> ssl.SSLContext:
    """A client context that trusts only the test certificate (and checks the host name)."""
    return ssl.create_default_context(cadata=certificate.read_text().split("-----BEGIN PRIV")[0])


# -- building ------------------------------------------------------------------------------------


def test_message_has_the_mail_safe_structure(attachments: list[Path]):
    message = build_message(report_body(), sender=SENDER, to=TO, attachments=attachments)
    assert structure(message) == [
        ("multipart/mixed", None, None, None),
        ("multipart/related", None, None, None),
        ("multipart/alternative", None, None, None),
        ("text/plain", None, None, None),
        ("text/html", None, None, None),
        ("image/png", "<volume>", "inline", "volume.png"),
        ("image/png", "<sla.trend>", "inline", "sla.trend.png"),
        ("application/pdf", None, "attachment", "cx-weekly-2026-W14.pdf"),
        ("text/html", None, "attachment", "cx-weekly-2026-W14.html"),
    ]
    assert message.get_payload(0).get_param("type") == "multipart/alternative"
    assert message["Message-ID"].endswith("@example.com>")
    assert message["Auto-Submitted"] == "auto-generated"


def test_inline_css_moves_rules_into_style_attributes_and_keeps_media_queries():
    html = inline_css(
        "<html><head><style>p { color: red } @media (max-width: 600px) { p { color: blue } }"
        '</style><link rel="stylesheet" href="http://127.0.0.1:9/never-fetched.css"></head>'
        "<body><p>Hi</p></body></html>"
    )
    assert '<p style="color: red;">Hi</p>' in html
    assert "@media (max-width: 600px)" in html
    assert "<link" not in html


def test_body_over_the_limit_says_by_how_much_before_any_connection(
    smtp_server: Callable[..., Server],
):
    server = smtp_server()
    body = report_body(html=report_body().html + "<p>" + "x" * 100_000 + "</p>")
    size = len(body.html.encode())
    with pytest.raises(MailError, match="over the limit") as caught:
        build_message(body, sender=SENDER, to=TO)
    assert f"{size:,} bytes, {size - 100_000:,} over" in str(caught.value)
    assert "attached report" in str(caught.value)
    assert server.inbox.messages == []
    small = build_message(report_body(), sender=SENDER, to=TO, max_body_bytes=2_000)
    assert small.get_body(("html",)) is not None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"html": '<p>Hi</p><script>alert("x")</script>'}, "<script> element"),
        ({"html": "<p>Hi</p><SCRIPT src=x.js></SCRIPT>"}, "<script> element"),
        ({"html": '<svg width="10"><rect/></svg>'}, "<svg> element"),
        ({"html": '<img src="data:image/png;base64,iVBOR">'}, "data: URI"),
        ({"html": "<div style=\"background: url('data:image/gif;base64,R')\"></div>"}, "data:"),
        ({"html": "<img src=data:,x>"}, "data: URI"),
        (
            {
                "html": '<img src="cid:volume"><img src="cid:csat">',
                "images": {"volume": tiny_png(1, 2, 3)},
            },
            "no image: csat",
        ),
        (
            {
                "html": '<img src="cid:volume">',
                "images": {"volume": tiny_png(1, 2, 3), "extra": tiny_png(3, 2, 1)},
            },
            "no cid: reference uses: extra",
        ),
        (
            {"html": '<img src="cid:volume">', "images": {"volume": b"\xff\xd8\xff\xe0JFIF"}},
            "not PNG: volume",
        ),
        (
            {"html": '<img src="cid:vol ume">', "images": {"vol ume": tiny_png(1, 2, 3)}},
            "cannot be a Content-ID",
        ),
        ({"subject": "Week 14\nBcc: everyone@example.com"}, "line break"),
    ],
)
def test_unsafe_bodies_are_rejected_by_name(changes: dict[str, Any], expected: str):
    body = report_body(**({"images": {}} | changes))
    with pytest.raises(MailError, match="not email-safe") as caught:
        build_message(body, sender=SENDER, to=TO)
    assert expected in str(caught.value)
    assert isinstance(caught.value, CxReportsError)
    assert caught.value.exit_code == 8


def test_the_word_data_in_prose_is_not_a_data_uri():
    body = report_body(html=report_body().html.replace("Week 14", "Missing data: 3 rows"))
    assert "Missing data: 3 rows" in build_message(body, sender=SENDER, to=TO).as_string()


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ([], "no recipient address given"),
        ("lead@example.com", "expected a list of recipient addresses"),
        (["lead"], "malformed recipient address: 'lead'"),
        (["lead@example.com", "a@b@c.com"], "malformed recipient address: 'a@b@c.com'"),
        (["lead@example.com, ana@example.org"], "one address per item"),
        (["lead@example..com"], "malformed recipient"),
        (["lead@example.com\r\nBcc: x@evil.example"], "malformed recipient"),
    ],
)
def test_bad_recipients_are_rejected(to: Any, expected: str):
    with pytest.raises(MailError) as caught:
        build_message(report_body(), sender=SENDER, to=to)
    assert expected in str(caught.value)


def test_malformed_sender_is_rejected():
    with pytest.raises(MailError, match="malformed sender address: 'reports'"):
        build_message(report_body(), sender="reports", to=TO)


def test_missing_attachment_is_named(attachments: list[Path], tmp_path: Path):
    missing = tmp_path / "not-rendered.pdf"
    with pytest.raises(MailError, match="attachment file not found") as caught:
        build_message(report_body(), sender=SENDER, to=TO, attachments=[*attachments, missing])
    assert str(missing) in str(caught.value)


def test_settings_hold_no_password_and_check_security(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    settings = SmtpSettings(host="smtp.example.com", sender=SENDER, user=USER)
    assert PASSWORD not in repr(settings)
    assert (settings.port, settings.security, settings.timeout_s) == (587, "starttls", 30)
    with pytest.raises(MailError, match="one of starttls, ssl, none, got 'tls'"):
        SmtpSettings(host="smtp.example.com", sender=SENDER, security="tls")  # type: ignore[arg-type]


# -- sending -------------------------------------------------------------------------------------


def test_sent_message_arrives_whole(smtp_server: Callable[..., Server], attachments: list[Path]):
    server = smtp_server()
    body = report_body()
    send(build_message(body, sender=SENDER, to=TO, attachments=attachments), server.settings())

    [received] = server.inbox.messages
    assert received.mail_from == "reports@example.com"
    assert received.rcpt_tos == ["lead@example.com", "ana@example.org"]
    assert received.authenticated is not True
    message = parse(received.content)
    assert message["Subject"] == body.subject
    assert message["To"] == "lead@example.com, Ana Díaz <ana@example.org>"
    assert [part[0] for part in structure(message)] == [
        "multipart/mixed",
        "multipart/related",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "image/png",
        "image/png",
        "application/pdf",
        "text/html",
    ]
    html = message.get_body(("html",)).get_content()
    assert len(html.encode()) <= 100_000
    assert "<svg" not in html and "data:" not in html and "<script" not in html
    assert 'style="color: #123456;"' in html
    text = message.get_body(("plain",)).get_content()
    assert text.replace("\r\n", "\n").rstrip("\n") == body.text  # SMTP sends CRLF lines

    inline = {
        part["Content-ID"]: part
        for part in message.walk()
        if part.get_content_disposition() == "inline"
    }
    referenced = [name for name in ("volume", "sla.trend") if f'src="cid:{name}"' in html]
    assert referenced == ["volume", "sla.trend"]
    for name in referenced:
        assert inline[f"<{name}>"].get_content_type() == "image/png"
        assert inline[f"<{name}>"].get_content() == body.images[name]

    attached = {part.get_filename(): part for part in message.iter_attachments()}
    for path in attachments:
        assert attached[path.name].get_content_disposition() == "attachment"
        assert attached[path.name].get_payload(decode=True) == path.read_bytes()
    assert attached["cx-weekly-2026-W14.pdf"].get_content_type() == "application/pdf"
    assert attached["cx-weekly-2026-W14.html"].get_content_type() == "text/html"


def test_login_uses_the_password_from_the_environment(
    smtp_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
):
    server = smtp_server(auth_require_tls=False, auth_required=True)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    send(report_message(), server.settings(user=USER))
    assert [login for _, login in server.authenticator.attempts] == [USER]
    [received] = server.inbox.messages
    assert received.authenticated is True


def test_no_login_is_attempted_without_a_user(
    smtp_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
):
    server = smtp_server(auth_require_tls=False)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    send(report_message(), server.settings())
    assert server.authenticator.attempts == []
    [received] = server.inbox.messages
    assert received.authenticated is not True


def test_a_server_that_requires_login_says_so_without_a_user(smtp_server: Callable[..., Server]):
    server = smtp_server(auth_require_tls=False, auth_required=True)
    with pytest.raises(MailError, match=rf"127\.0\.0\.1:{server.port} requires auth.*530") as e:
        send(report_message(), server.settings())
    assert "--smtp-user" in str(e.value) and "refused the sender" not in str(e.value)
    assert server.inbox.messages == []


def test_wrong_password_fails_without_showing_it(
    smtp_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
):
    server = smtp_server(auth_require_tls=False, auth_required=True)
    wrong = "wrong-Pa55word-7c1e"
    monkeypatch.setenv(PASSWORD_ENV, wrong)
    with pytest.raises(MailError) as caught:
        send(report_message(), server.settings(user=USER))
    text = str(caught.value)
    assert f"127.0.0.1:{server.port}" in text
    assert "535" in text and "'reports'" in text and PASSWORD_ENV in text
    shown = "".join(traceback.format_exception(caught.value)) + repr(caught.value)
    assert wrong not in shown
    assert server.inbox.messages == []


def test_missing_password_variable_is_named_before_connecting(
    smtp_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
):
    server = smtp_server(auth_require_tls=False)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with pytest.raises(MailError, match=f"environment variable {PASSWORD_ENV} "):
        send(report_message(), server.settings(user=USER))
    assert server.authenticator.attempts == [] and server.inbox.messages == []


def test_a_password_that_is_part_of_the_host_is_not_told_by_a_mask(
    monkeypatch: pytest.MonkeyPatch,
):
    # the whole message was masked: "cannot connect to SMTP server ***.0.0.1" told the
    # password; only what a server says is masked now
    monkeypatch.setenv(PASSWORD_ENV, "127.0")
    port = free_port()
    settings = SmtpSettings(host="127.0.0.1", port=port, sender=SENDER, user=USER)
    with pytest.raises(MailError) as caught:
        send(report_message(), settings)
    assert f"cannot connect to SMTP server 127.0.0.1:{port}" in str(caught.value)
    assert "***" not in str(caught.value)


@pytest.mark.parametrize(("user", "password"), [(USER, "pässwörd-S3cret"), ("rëports", "plain")])
def test_a_password_or_user_outside_ascii_is_refused_before_connecting(
    smtp_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch, user, password
):
    # smtplib's login encodes them as ASCII: a traceback, after every report had rendered
    server = smtp_server(auth_require_tls=False)
    monkeypatch.setenv(PASSWORD_ENV, password)
    with pytest.raises(MailError, match="character outside ASCII") as caught:
        send(report_message(), server.settings(user=user))
    assert password not in str(caught.value)
    assert server.authenticator.attempts == [] and server.inbox.messages == []


def test_refused_recipients_are_reported(smtp_server: Callable[..., Server]):
    server = smtp_server(refuse={"ana@example.org"})
    with pytest.raises(MailError, match="refused some recipients") as caught:
        send(report_message(), server.settings())
    assert "ana@example.org (550 5.1.1 No such mailbox here)" in str(caught.value)
    assert [m.rcpt_tos for m in server.inbox.messages] == [["lead@example.com"]]

    with pytest.raises(MailError, match="refused every recipient"):
        send(build_message(report_body(), sender=SENDER, to=["ana@example.org"]), server.settings())


def test_nothing_listening_names_host_and_port():
    port = free_port()
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none", sender=SENDER)
    with pytest.raises(MailError, match=rf"cannot connect to SMTP server 127\.0\.0\.1:{port}"):
        send(report_message(), settings)


def test_starttls_then_login_over_tls(
    smtp_server: Callable[..., Server], certificate: Path, monkeypatch: pytest.MonkeyPatch
):
    server = smtp_server(tls_context=server_tls(certificate), require_starttls=True)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    message = report_message()
    send(
        message, server.settings(security="starttls", user=USER), ssl_context=trusting(certificate)
    )
    [received] = server.inbox.messages
    assert received.tls and received.authenticated is True
    assert parse(received.content)["Message-ID"] == message["Message-ID"]


def test_starttls_refuses_an_untrusted_certificate(
    smtp_server: Callable[..., Server], certificate: Path
):
    server = smtp_server(tls_context=server_tls(certificate), require_starttls=True)
    with pytest.raises(MailError, match=rf"TLS with 127\.0\.0\.1:{server.port} failed"):
        send(report_message(), server.settings(security="starttls"))
    assert server.inbox.messages == []


def test_clear_text_to_a_server_that_requires_starttls_shows_its_reply(
    smtp_server: Callable[..., Server], certificate: Path
):
    server = smtp_server(tls_context=server_tls(certificate), require_starttls=True)
    with pytest.raises(MailError, match=r"530 Must issue a STARTTLS command first"):
        send(report_message(), server.settings())


def test_starttls_to_a_server_without_it_is_explained(smtp_server: Callable[..., Server]):
    server = smtp_server()
    with pytest.raises(MailError, match="does not support") as caught:
        send(report_message(), server.settings(security="starttls"))
    assert "587 for 'starttls'" in str(caught.value)


def test_implicit_tls(smtp_server: Callable[..., Server], certificate: Path):
    server = smtp_server(ssl_context=server_tls(certificate))
    send(
        report_message(),
        server.settings(security="ssl"),
        ssl_context=trusting(certificate),
    )
    [received] = server.inbox.messages
    assert parse(received.content)["Subject"] == report_body().subject


# -- dry run and send log ------------------------------------------------------------------------


def test_eml_parses_back_to_the_same_message(tmp_path: Path, attachments: list[Path]):
    message = build_message(report_body(), sender=SENDER, to=TO, attachments=attachments)
    path = tmp_path / "out" / "cx-weekly.eml"
    assert write_eml(message, path) == path
    back = parse(path.read_bytes())
    assert structure(back) == structure(message)
    assert [part.get_payload(decode=True) for part in back.walk() if not part.is_multipart()] == [
        part.get_payload(decode=True) for part in message.walk() if not part.is_multipart()
    ]
    for header in ("Subject", "From", "To", "Message-ID", "Date"):
        assert back[header] == message[header]

    write_eml(build_message(report_body(subject="Again"), sender=SENDER, to=TO), path)
    assert parse(path.read_bytes())["Subject"] == "Again"
    assert [p.name for p in path.parent.iterdir()] == ["cx-weekly.eml"]


def test_send_log_round_trips(tmp_path: Path):
    key, other = "2026-W14/team-leads", "2026-W14/directors"
    assert not already_sent(tmp_path, key)
    record_sent(tmp_path, key, "<1@example.com>")
    assert already_sent(tmp_path, key) and not already_sent(tmp_path, other)
    record_sent(tmp_path, other, "<2@example.com>")
    assert already_sent(tmp_path, key) and already_sent(tmp_path, other)

    sent = json.loads((tmp_path / SENT_LOG_NAME).read_text())["sent"]
    assert {k: v["message_id"] for k, v in sent.items()} == {
        key: "<1@example.com>",
        other: "<2@example.com>",
    }
    assert all(v["sent_at"].endswith("+00:00") for v in sent.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == [SENT_LOG_NAME]


@pytest.mark.parametrize("content", ["{not json", '["a list"]', '{"sent": 3}'])
def test_a_damaged_send_log_is_an_error_not_a_resend(tmp_path: Path, content: str):
    (tmp_path / SENT_LOG_NAME).write_text(content)
    with pytest.raises(MailError, match="fix or delete it"):
        already_sent(tmp_path, "2026-W14/team-leads")
