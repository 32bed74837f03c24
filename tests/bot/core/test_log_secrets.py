"""What reaches the log: the real bot's JSON log lines, captured, must never hold a secret.

Secrets come from where the running bot really has them: the Twilio Basic header as the
fake Twilio received it, the WeChat access token the fake WeChat issued, the configured
tokens. Lines are then written the ways libraries write them (a URL, a header dump, an
exception text, a chained traceback), through the handler `aftersales serve` installs.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.core import logs
from bot.tools.demo import seed
from config.settings import Settings, WeChatSettings
from tests.conftest import ADMIN_TOKEN, TG_SECRET, BotHarness, make_settings, telegram_settings
from tests.fakes.telegram import FakeTelegram, message_update
from tests.fakes.twilio import AUTH_TOKEN, FakeTwilio, inbound_form, sign, whatsapp_settings
from tests.fakes.wechat import APP_ID, APP_SECRET, TOKEN, FakeWeChat, signed_query, text_xml

ACME_WA = "whatsapp:+491701234567"
ACME_TG = 5550001  # demo client "acme": PO-2026-0117 in production


class Captured:
    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.redact: logs.RedactSecrets | None = None
        self.handler: logging.Handler | None = None

    def install(self, settings: Settings) -> logs.RedactSecrets:
        """The handler `aftersales serve` installs, scrubbing the settings' secrets, on the root logger."""
        self.redact = logs.RedactSecrets(settings.secrets())
        self.handler = logs.json_handler(self.stream, self.redact)
        logging.getLogger().addHandler(self.handler)
        return self.redact

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]


@pytest.fixture
def captured() -> Iterator[Captured]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    logs.quiet_libraries()
    cap = Captured()
    yield cap
    if cap.handler is not None:
        root.removeHandler(cap.handler)
    root.setLevel(level)


def leak_like_a_library(secret: str) -> None:
    """Write `secret` the ways a provider library or our own error paths might."""
    logging.getLogger("provider.http").info("POST https://api.example/send?access_token=%s", secret)
    logging.getLogger("provider.http").warning("request headers: %r", {"Authorization": secret})
    try:
        try:
            raise ConnectionError(f"HTTP 401 from https://api.example/?access_token={secret}")
        except ConnectionError as exc:
            raise RuntimeError(f"send failed with credential {secret}") from exc
    except RuntimeError:
        logging.getLogger("bot.core.outbox").exception("sender raised unexpectedly for outbox row %s", 7)


async def test_twilio_basic_header_never_reaches_the_log(
    tmp_path: Path, db_url: str, fake_twilio: FakeTwilio, captured: Captured
) -> None:
    settings = make_settings(tmp_path, db_url, whatsapp=whatsapp_settings(fake_twilio))
    h = BotHarness(settings, secret_sink=captured.install(settings).runtime_secret)
    await h.start()
    try:
        await seed(h.db)
        path = "/webhooks/whatsapp"
        pairs = inbound_form(ACME_WA, "hello")
        url = settings.server.public_url + path
        resp = await h.client.post(path, data=pairs, headers={"X-Twilio-Signature": sign(url, pairs)})
        assert resp.status == 200
        await fake_twilio.wait_for(lambda f: any(c.kind == "create" for c in f.calls))
        await h.settled()
    finally:
        await h.close()
    header = next(c for c in fake_twilio.calls if c.kind == "create").headers["Authorization"]
    basic = header.removeprefix("Basic ")
    assert header.startswith("Basic ") and basic  # what Twilio really received
    leak_like_a_library(header)
    assert basic not in captured.text and AUTH_TOKEN not in captured.text
    assert "***" in captured.text


async def test_wechat_access_token_learnt_at_run_time_is_scrubbed(
    tmp_path: Path, db_url: str, fake_wechat: FakeWeChat, captured: Captured
) -> None:
    wechat = WeChatSettings(
        enabled=True, app_id=APP_ID, app_secret=APP_SECRET, token=TOKEN, api_base_url=fake_wechat.api_base_url
    )
    settings = make_settings(tmp_path, db_url, wechat=wechat)
    h = BotHarness(settings, secret_sink=captured.install(settings).runtime_secret)
    await h.start()
    try:
        await seed(h.db)
        resp = await h.client.post(
            "/webhooks/wechat", params=signed_query(), data=text_xml("o_log_test", "hello").encode()
        )
        assert resp.status == 200
        await fake_wechat.wait_sent(1)
        await h.settled()
    finally:
        await h.close()
    [token] = fake_wechat.tokens  # the one the bot fetched and used
    leak_like_a_library(token)
    assert token not in captured.text and APP_SECRET not in captured.text
    assert captured.text.count("***") >= 4


async def test_exception_texts_and_tracebacks_are_scrubbed(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram, captured: Captured
) -> None:
    settings = make_settings(tmp_path, db_url, telegram=telegram_settings(fake_telegram))
    captured.install(settings)
    for secret in (ADMIN_TOKEN, fake_telegram.token, TG_SECRET):
        leak_like_a_library(secret)
    lines = captured.lines()
    assert any("exc" in line for line in lines)  # the traceback is there, scrubbed
    for secret in (ADMIN_TOKEN, fake_telegram.token, TG_SECRET):
        assert secret not in captured.text
    failure = next(line for line in lines if "exc" in line)
    assert "send failed with credential ***" in failure["exc"] and "access_token=***" in failure["exc"]


@pytest.mark.parametrize("sandbox", [False, True])
async def test_outbound_text_is_logged_only_in_the_sandbox(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram, captured: Captured, sandbox: bool
) -> None:
    settings = make_settings(tmp_path, db_url, telegram=telegram_settings(fake_telegram))
    settings = replace(settings, server=replace(settings.server, sandbox=sandbox))
    h = BotHarness(settings, secret_sink=captured.install(settings).runtime_secret)
    await h.start()
    try:
        await seed(h.db)
        resp = await h.post_telegram(message_update(ACME_TG, text="PO-2026-0117 status"))
        assert resp.status == 200
        await h.settled()
        if sandbox:
            assert h.runtime.sandbox is not None
            [reply] = [m.text for m in h.runtime.sandbox.sent]
        else:
            await fake_telegram.wait_for(lambda f: bool(f.texts_to(ACME_TG)))
            [reply] = fake_telegram.texts_to(ACME_TG)
    finally:
        await h.close()
    assert "Order PO-2026-0117: In production" in reply  # the order text the bot sent
    assert captured.lines()  # the bot did log (start-up at least)
    assert ("Order PO-2026-0117: In production" in captured.text) is sandbox
