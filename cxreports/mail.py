"""Build report emails (email-safe HTML, ``cid:`` images, attachments) and send them over SMTP.

Mail clients drop SVG, ``data:`` images and scripts, and Gmail clips HTML bodies over about
100 KB, so a report email is: a small HTML body with inline CSS whose charts are PNG parts
referenced as ``cid:<name>``, a plain-text alternative, and the full report as attachments::

    multipart/mixed
      multipart/related
        multipart/alternative
          text/plain
          text/html          (references cid:<name>)
        image/png            (Content-ID: <name>, inline), one per chart
      application/pdf        (attachment)
      text/html              (attachment)

The SMTP password is never stored here: `send` reads it from an environment variable at send
time, and keeps it out of every message it raises.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage, MIMEPart
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path
from typing import Any, Literal, NoReturn

import css_inline

from cxreports.exceptions import MailError
from cxreports.iorw import write_atomic

Security = Literal["starttls", "ssl", "none"]

SENT_LOG_NAME = ".sent.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_SECURITIES: tuple[Security, ...] = ("starttls", "ssl", "none")
_CID_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
_CID_REF = re.compile(r"""cid:([^\s"'()<>]+)""", re.IGNORECASE)
_SCRIPT = re.compile(r"<\s*script\b", re.IGNORECASE)
_SVG = re.compile(r"<\s*svg\b", re.IGNORECASE)
# A data: URI as an attribute value or url() argument, or anything shaped like one with a media
# type; a sentence such as "missing data: 3 rows" is not one.
_DATA_URI = re.compile(
    r"""(?:(?:=|url\()\s*["']?\s*data:)|(?:\bdata:\s*[a-z]+/[\w.+-]+\s*[;,])""", re.IGNORECASE
)
_DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_ADDR_SPEC = re.compile(rf"""[^@\s<>()\[\],;:"\\]+@{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*""")


@dataclass(frozen=True, kw_only=True)
class SmtpSettings:
    """Where and how to send: the SMTP server, its security, and who logs in.

    Parameters
    ----------
    host
        SMTP server name or address.
    port
        587 for ``"starttls"`` (submission), 465 for ``"ssl"``, 25 for ``"none"``.
    security
        ``"starttls"`` upgrades a plain connection, ``"ssl"`` is TLS from the first byte,
        ``"none"`` sends in clear text (a local relay only).
    user
        Login name; ``None`` sends without logging in.
    sender
        The envelope sender (``MAIL FROM``), usually the message's From address.
    timeout_s
        Seconds to wait for the connection and for each server reply.
    password_env
        The environment variable that holds the password, read at send time when `user` is
        set. The password itself is never a field, so it cannot show in a repr.

    Examples
    --------
    >>> settings = SmtpSettings(host="smtp.example.com", sender="reports@example.com")
    >>> settings.port, settings.security, settings.user
    (587, 'starttls', None)
    """

    host: str
    port: int = 587
    security: Security = "starttls"
    user: str | None = None
    sender: str
    timeout_s: float = 30
    password_env: str = "CXREPORTS_SMTP_PASSWORD"

    def __post_init__(self) -> None:
        if self.security not in _SECURITIES:
            raise MailError(
                f"SMTP security must be one of {', '.join(_SECURITIES)}, got {self.security!r}"
            )


@dataclass(frozen=True)
class EmailBody:
    """The content of one report email, before it becomes MIME parts.

    Parameters
    ----------
    subject
        The Subject line (one line).
    html
        Email-safe HTML with inline CSS (see `inline_css`); images as ``<img src="cid:name">``.
    text
        The plain-text alternative, shown by text-only clients and in previews.
    images
        ``cid`` name -> PNG bytes, one entry per ``cid:`` reference in `html`.
    """

    subject: str
    html: str
    text: str
    images: Mapping[str, bytes] = field(default_factory=dict)


def inline_css(html: str) -> str:
    """Move the rules of ``<style>`` blocks into ``style=""`` attributes, as mail clients need.

    ``@media`` and other at-rules stay in a ``<style>`` block (clients that read them use them
    for small screens); ``<link>`` stylesheets are neither fetched nor kept.

    Examples
    --------
    >>> inline_css("<html><head><style>p { color: red }</style></head><body><p>Hi</p></body>")
    '<html><head></head><body><p style="color: red;">Hi</p></body></html>'
    """
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)
    try:
        return inliner.inline(html)
    except css_inline.InlineError as exc:
        raise MailError(f"cannot inline the CSS of the email body: {exc}") from exc


def build_message(
    body: EmailBody,
    *,
    sender: str,
    to: Sequence[str],
    attachments: Sequence[Path] = (),
    max_body_bytes: int = 100_000,
) -> EmailMessage:
    """Check `body` is safe to mail and build the full MIME message (see the module docstring).

    Parameters
    ----------
    body
        Subject, HTML, text alternative and PNG images.
    sender
        The From address, ``"reports@example.com"`` or ``"CX Reports <reports@example.com>"``.
    to
        Recipient addresses, one per item.
    attachments
        Files attached as they are (the PDF report, the full HTML report); the MIME type
        comes from the file name.
    max_body_bytes
        Limit on the UTF-8 size of `body.html`, images excluded; Gmail clips bodies past ~100 KB.

    Raises
    ------
    MailError
        The body is too large or not email-safe (script, SVG, ``data:`` URI, a ``cid:`` with no
        image or an image no ``cid:`` uses, an image that is not PNG), an address is malformed,
        or an attachment is missing.

    Examples
    --------
    >>> body = EmailBody(subject="Week 14", html="<p>Hi</p>", text="Hi")
    >>> msg = build_message(body, sender="reports@example.com", to=["lead@example.com"])
    >>> msg.get_content_type(), msg["To"]
    ('multipart/mixed', 'lead@example.com')
    """
    _check_body(body, max_body_bytes)
    sender = _check_addresses([sender], "sender")[0]
    recipients = _check_addresses(to, "recipient")
    files = _check_attachments(attachments)

    alternative = MIMEPart()
    alternative.set_content(body.text)
    alternative.add_alternative(body.html, subtype="html")
    related = MIMEPart()
    related.make_related()
    related.set_param("type", "multipart/alternative")
    related.attach(alternative)
    for name, data in body.images.items():
        image = MIMEPart()
        image.set_content(
            data,
            maintype="image",
            subtype="png",
            cid=f"<{name}>",
            disposition="inline",
            filename=f"{name}.png",
        )
        related.attach(image)

    message = EmailMessage()
    message["Subject"] = body.subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=True)
    # The domain is given so make_msgid does not look up this host's FQDN, which can stall.
    message["Message-ID"] = make_msgid(domain=getaddresses([sender])[0][1].rpartition("@")[2])
    message["MIME-Version"] = "1.0"
    # RFC 3834: out-of-office replies are not sent back to an automatic weekly report.
    message["Auto-Submitted"] = "auto-generated"
    message.make_mixed()
    message.attach(related)
    for path in files:
        mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, subtype = mime_type.split("/", 1)
        part = MIMEPart()
        part.set_content(
            path.read_bytes(),
            maintype=maintype,
            subtype=subtype,
            disposition="attachment",
            filename=path.name,
            # the reports are UTF-8: without it a mail app may show an agent's name as
            # mojibake (text/* defaults to US-ASCII)
            params={"charset": "utf-8"} if maintype == "text" else {},
        )
        message.attach(part)
    return message


def send(
    message: EmailMessage, settings: SmtpSettings, *, ssl_context: ssl.SSLContext | None = None
) -> None:
    """Send `message` through the SMTP server of `settings`, to every address in its To header.

    Parameters
    ----------
    message
        A message from `build_message`.
    settings
        Server, security and login; the password comes from ``os.environ[settings.password_env]``
        and only when ``settings.user`` is set.
    ssl_context
        The TLS context for ``"starttls"`` and ``"ssl"``; by default the system's trusted
        certificates with host-name checking (tests pass one that trusts their own certificate).

    Raises
    ------
    MailError
        The password variable is unset, the server cannot be reached, TLS fails, the login is
        refused, or the server refuses the sender or any recipient. The message names
        ``host:port`` and the server's reply, never the password.
    """
    password = login_password(settings)
    where = f"{settings.host}:{settings.port}"
    context = ssl_context if ssl_context is not None else ssl.create_default_context()
    try:
        if settings.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_s, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
        try:
            if settings.security == "starttls":
                client.starttls(context=context)
            if settings.user is not None and password is not None:
                client.login(settings.user, password)
            refused = client.send_message(message, from_addr=settings.sender)
        finally:
            _quit(client)
    except smtplib.SMTPAuthenticationError as exc:
        _raise(
            f"SMTP server {where} refused the login of {settings.user!r}: "
            f"{_reply(exc, password)}; check the user name and the password in "
            f"${settings.password_env}",
            exc,
            password,
        )
    except smtplib.SMTPRecipientsRefused as exc:
        _raise(
            f"SMTP server {where} refused every recipient: "
            f"{_refusals(exc.recipients, password)}; nothing was sent",
            exc,
            password,
        )
    except smtplib.SMTPSenderRefused as exc:
        if exc.smtp_code == 530 and settings.user is None:  # 530: authentication required
            _raise(
                f"SMTP server {where} requires authentication ({_reply(exc, password)}); set "
                f"--smtp-user (smtp.user in the config) and the password in "
                f"${settings.password_env}",
                exc,
                password,
            )
        _raise(
            f"SMTP server {where} refused the sender {settings.sender!r}: "
            f"{_reply(exc, password)}; use an address the server lets this user send from",
            exc,
            password,
        )
    except smtplib.SMTPNotSupportedError as exc:
        _raise(
            f"SMTP server {where} does not support what was asked: "
            f"{_masked(str(exc), password).rstrip('.')}; for security={settings.security!r} "
            "check the port (465 for 'ssl', 587 for 'starttls') and whether the server takes a "
            "login",
            exc,
            password,
        )
    except smtplib.SMTPResponseException as exc:
        _raise(f"SMTP server {where} replied {_reply(exc, password)}", exc, password)
    except smtplib.SMTPException as exc:
        _raise(f"SMTP error with {where}: {_masked(str(exc), password)}", exc, password)
    except ssl.SSLError as exc:
        _raise(
            f"TLS with {where} failed: {_masked(str(exc), password)}; check "
            f"security={settings.security!r} matches the port (465 for 'ssl', 587 for "
            "'starttls') and that the certificate is trusted",
            exc,
            password,
        )
    except TimeoutError as exc:
        _raise(f"SMTP server {where} did not answer within {settings.timeout_s:g} s", exc, password)
    except OSError as exc:
        _raise(
            f"cannot connect to SMTP server {where}: {_masked(str(exc), password)}; check the "
            "host, the port and the network",
            exc,
            password,
        )
    if refused:
        addresses = getaddresses(message.get_all("To", []) + message.get_all("Cc", []))
        error = MailError(
            f"SMTP server {where} refused some recipients: {_refusals(refused, password)}; "
            "the others were sent the message"
        )
        error.delivered = tuple(a for _, a in addresses if a and a not in refused)
        raise error


def write_eml(message: EmailMessage, path: Path) -> Path:
    """Write `message` as an ``.eml`` file (the ``--dry-run`` of sending); returns `path`.

    The file is written to a temporary name and renamed, so `path` is never half-written.
    """
    path = Path(path)
    write_atomic(path, message.as_bytes())
    return path


def already_sent(report_dir: Path, key: str) -> bool:
    """Whether `key` is recorded in ``report_dir/.sent.json``; see `record_sent`.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> already_sent(folder, "2026-W14/team-leads")
    False
    >>> record_sent(folder, "2026-W14/team-leads", "<1@example.com>")
    >>> already_sent(folder, "2026-W14/team-leads")
    True
    """
    return key in _read_sent_log(Path(report_dir))


def record_sent(report_dir: Path, key: str, message_id: str) -> None:
    """Record in ``report_dir/.sent.json`` that `key` was sent now, as `message_id`.

    The weekly job builds `key` from the report run and the recipient group (for example
    ``"2026-W14/team-leads"``), checks `already_sent` before sending and records after, so a
    rerun after a crash only sends what is missing. The file is rewritten atomically.
    """
    report_dir = Path(report_dir)
    sent = _read_sent_log(report_dir)
    sent[key] = {"sent_at": datetime.now(UTC).isoformat(), "message_id": message_id}
    text = json.dumps({"sent": sent}, indent=2, sort_keys=True) + "\n"
    write_atomic(report_dir / SENT_LOG_NAME, text.encode())


def _check_body(body: EmailBody, max_body_bytes: int) -> None:
    size = len(body.html.encode())
    if size > max_body_bytes:
        raise MailError(
            f"the HTML email body is {size:,} bytes, {size - max_body_bytes:,} over the limit "
            f"of {max_body_bytes:,} (Gmail clips bodies past ~100 KB); keep the body to the "
            "headline KPIs and charts and leave the detail tables to the attached report"
        )
    problems = []
    if _SCRIPT.search(body.html):
        problems.append("a <script> element (mail clients remove scripts)")
    if _SVG.search(body.html):
        problems.append("an <svg> element (mail clients drop SVG; embed the chart as a PNG)")
    if match := _DATA_URI.search(body.html):
        problems.append(
            f"a data: URI near {body.html[match.start() : match.start() + 40]!r} (mail clients "
            "block them; pass the image in EmailBody.images and reference it as cid:<name>)"
        )
    referenced = dict.fromkeys(_CID_REF.findall(body.html))
    if missing := [name for name in referenced if name not in body.images]:
        problems.append(
            f"cid: references with no image: {', '.join(missing)} (add them to EmailBody.images)"
        )
    if unused := [name for name in body.images if name not in referenced]:
        problems.append(
            f"images no cid: reference uses: {', '.join(unused)} "
            '(add <img src="cid:name"> or leave them out)'
        )
    if bad_names := [name for name in body.images if not _CID_NAME.fullmatch(name)]:
        problems.append(
            f"image names that cannot be a Content-ID: {', '.join(map(repr, bad_names))} "
            "(use letters, digits, '.', '_', '-', '@')"
        )
    if not_png := [
        name
        for name, data in body.images.items()
        if not (isinstance(data, bytes) and data.startswith(PNG_SIGNATURE))
    ]:
        problems.append(
            f"images that are not PNG: {', '.join(not_png)} (render charts to PNG, e.g. with "
            "vl_convert.vegalite_to_png)"
        )
    if "\n" in body.subject or "\r" in body.subject:
        problems.append(f"a subject with a line break: {body.subject!r}")
    if problems:
        raise MailError("the email body is not email-safe; it has " + "; ".join(problems))


def _check_addresses(addresses: Sequence[str], role: str) -> list[str]:
    if isinstance(addresses, str):
        raise MailError(f"expected a list of {role} addresses, got the string {addresses!r}")
    if not addresses:
        raise MailError(f"no {role} address given; give at least one, like 'name@example.com'")
    bad = [address for address in addresses if not is_address(address)]
    if bad:
        raise MailError(
            f"malformed {role} address{'es' if len(bad) > 1 else ''}: "
            f"{', '.join(map(repr, bad))}; expected one address per item, like "
            "'name@example.com' or 'Name <name@example.com>'"
        )
    return [address.strip() for address in addresses]


def is_address(text: object) -> bool:
    """Whether ``text`` is one email address (``name@example.com``, ``Name <name@example.com>``)
    on one line: what the config, the flags and a message's headers take."""
    if not isinstance(text, str) or "\n" in text or "\r" in text:
        return False
    parsed = getaddresses([text])
    return len(parsed) == 1 and _ADDR_SPEC.fullmatch(parsed[0][1]) is not None


def bare_address(text: str) -> str:
    """The address alone, lower-cased, as a send log records a recipient: the same person
    however the config writes them.

    Examples
    --------
    >>> bare_address("Head Of CX <Head@Example.com>"), bare_address("ops@example.com")
    ('head@example.com', 'ops@example.com')
    """
    return getaddresses([text])[0][1].lower()


def _check_attachments(attachments: Sequence[Path]) -> list[Path]:
    files = [Path(path) for path in attachments]
    if missing := [str(path) for path in files if not path.is_file()]:
        raise MailError(
            f"attachment file{'s' if len(missing) > 1 else ''} not found: {', '.join(missing)}; "
            "render the report before building the email"
        )
    return files


def login_password(settings: SmtpSettings) -> str | None:
    """The SMTP password from ``os.environ[settings.password_env]``, None without a user; a
    :class:`MailError` if a user is set and the variable is not (the weekly job asks before
    any work, not after every report has rendered)."""
    if settings.user is None:
        return None
    password = os.environ.get(settings.password_env)
    if not password:
        raise MailError(
            f"SMTP user {settings.user!r} is set but the environment variable "
            f"{settings.password_env} holding the password is not; export it, or set no user "
            "to send without logging in"
        )
    # Python's SMTP login sends the user and password as ASCII (and fails with a traceback
    # otherwise); said before any work, without the value
    for what, text in (
        ("password in $" + settings.password_env, password),
        ("user", settings.user),
    ):
        if not text.isascii():
            raise MailError(
                f"the SMTP {what} has a character outside ASCII, which the SMTP login cannot "
                "send; use an ASCII password (an app password, say) for the sending account"
            )
    return password


def _quit(client: smtplib.SMTP) -> None:
    # Not `with client:` - its QUIT can fail on a broken connection and hide the real error; and
    # once the message is accepted a failed goodbye must not report the send as failed.
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _raise(text: str, cause: BaseException | None, password: str | None) -> NoReturn:
    # The server's words in ``text`` are masked already (:func:`_masked`): masking the whole
    # text would tell the password by what it hides (a host "smtp.***.com"). A server that
    # echoes the password must not leak it through the chained exception either.
    if password and cause is not None and password in repr(cause.args):
        raise MailError(text) from None
    raise MailError(text) from cause


def _masked(text: str, password: str | None) -> str:
    """What a server said, the password (should it echo it) replaced by ``***``."""
    return text.replace(password, "***") if password else text


def _reply(exc: smtplib.SMTPResponseException, password: str | None) -> str:
    return _masked(f"{exc.smtp_code} {_decode(exc.smtp_error)}", password)


def _refusals(recipients: Mapping[str, tuple[int, bytes | str]], password: str | None) -> str:
    return ", ".join(
        f"{address} ({code} {_masked(_decode(reply), password)})"
        for address, (code, reply) in recipients.items()
    )


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _read_sent_log(report_dir: Path) -> dict[str, Any]:
    path = report_dir / SENT_LOG_NAME
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise MailError(
            f"cannot read the send log {path}: {exc}; fix or delete it (deleting it means every "
            "group of this report may be sent again)"
        ) from exc
    sent = data.get("sent") if isinstance(data, dict) else None
    if not isinstance(sent, dict):
        raise MailError(
            f"the send log {path} is not in the expected form {{'sent': {{key: ...}}}}; fix or "
            "delete it (deleting it means every group of this report may be sent again)"
        )
    return sent
