"""A real SMTP server for the tests: aiosmtpd's Controller on a free 127.0.0.1 port.

It records every accepted message (envelope and parsed MIME) and can be scripted to
answer the next DATA commands with an error (451 "try again later", 550 "no such
user"), the way a relay in trouble does. aiosmtpd runs in its own thread and loop, so
the record is guarded by a lock and waited on by polling it with a deadline.
"""

from __future__ import annotations

import asyncio
import email
import threading
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.fakes.base import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        return body.get_content() if body is not None else ""  # type: ignore[union-attr]


class FakeSmtp:
    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        """With `credentials`, clients must AUTH (PLAIN/LOGIN; allowed without TLS on loopback)."""
        self.credentials = credentials
        self.logins: list[str] = []
        self.received: list[Received] = []
        self.attempts = 0
        self._failures: list[str] = []
        self._lock = threading.RLock()
        self.port = free_port()  # aiosmtpd's Controller cannot bind port 0 (see docs/providers/email.md)
        auth: dict[str, Any] = {}
        if credentials is not None:
            auth = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **auth)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        login = data.login.decode() if isinstance(data, LoginPassword) else ""
        password = data.password.decode() if isinstance(data, LoginPassword) else ""
        ok = self.credentials is not None and (login, password) == self.credentials
        if ok:
            with self._lock:
                self.logins.append(login)
        return AuthResult(success=ok, handled=False)

    def start(self) -> FakeSmtp:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def fail_next(self, reply: str = "451 4.3.0 Try again later", times: int = 1) -> None:
        with self._lock:
            self._failures += [reply] * times

    # aiosmtpd handler hook: runs on the controller's thread
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.attempts += 1
            if self._failures:
                return self._failures.pop(0)
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))
            )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if address in r.rcpt_tos]

    async def wait_for(self, predicate: Any, timeout: float = 15.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with self._lock:
                ok = predicate(self)
            if ok:
                return
            if loop.time() > deadline:
                raise AssertionError(f"SMTP condition not met within {timeout}s; got {len(self.received)}")
            await asyncio.sleep(0.02)

    async def wait_to(self, address: str, count: int = 1, timeout: float = 15.0) -> list[Received]:
        await self.wait_for(lambda s: len(s.to(address)) >= count, timeout)
        return self.to(address)
