"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), keeping what arrives."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from cxreports.mail import SmtpSettings

USER = "reports"
PASSWORD = "pw-S3cr3t-4f9a"
SENDER = "CX Reports <reports@example.com>"


# -- a real SMTP server --------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    authenticated: bool | None
    tls: bool


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what arrives and refuses the addresses in `refuse`."""

    refuse: set[str] = field(default_factory=set)
    messages: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.content,
                session.authenticated,
                session.ssl is not None,
            )
        )
        return "250 Message accepted for delivery"


@dataclass
class Authenticator:
    """Accepts USER / PASSWORD only, and notes every login attempted."""

    attempts: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.attempts.append((mechanism, login))
        return AuthResult(success=(login, password) == (USER, PASSWORD), handled=False)


@dataclass
class Server:
    host: str
    port: int
    inbox: Inbox
    authenticator: Authenticator

    def settings(self, **changes: Any) -> SmtpSettings:
        fields = {"host": self.host, "port": self.port, "security": "none", "sender": SENDER}
        return SmtpSettings(**(fields | changes))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., Server]]:
    """Start aiosmtpd servers on 127.0.0.1 (keyword arguments go to aiosmtpd's SMTP class)."""
    controllers: list[Controller] = []

    def start(refuse: set[str] | None = None, **smtp_options: Any) -> Server:
        inbox, authenticator = Inbox(refuse=refuse or set()), Authenticator()
        controller = Controller(
            inbox,
            hostname="127.0.0.1",
            port=free_port(),
            authenticator=authenticator,
            **smtp_options,
        )
        controller.start()
        controllers.append(controller)
        return Server("127.0.0.1", controller.port, inbox, authenticator)

    yield start
    for controller in controllers:
        controller.stop()
