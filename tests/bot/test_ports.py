"""Adapter roles: every adapter plays the roles its channel is wired for; wiring refuses one that does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.app import ROLES, build_adapters, check_roles
from bot.messages import Attachment
from bot.ports import (
    Adapter,
    Capabilities,
    MediaFetcher,
    MissingRole,
    PollingIngress,
    Sender,
    WebhookIngress,
)
from channels.base import MediaStore
from config.settings import EmailSettings, Settings, WeChatSettings
from storage.db import Database
from tests.conftest import make_settings, telegram_settings
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio, whatsapp_settings
from tests.fakes.wechat import APP_ID, APP_SECRET, TOKEN, FakeWeChat


def every_channel(tmp_path: Path, db_url: str, tg: FakeTelegram, wa: FakeTwilio, wx: FakeWeChat) -> Settings:
    return make_settings(
        tmp_path,
        db_url,
        telegram=telegram_settings(tg),
        whatsapp=whatsapp_settings(wa),
        wechat=WeChatSettings(
            enabled=True, app_id=APP_ID, app_secret=APP_SECRET, token=TOKEN, api_base_url=wx.api_base_url
        ),
        email=EmailSettings(enabled=True, smtp_host="127.0.0.1", from_address="support@factory.example"),
    )


async def test_every_adapter_plays_the_roles_its_channel_is_wired_for(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram, fake_twilio: FakeTwilio, fake_wechat: FakeWeChat
) -> None:
    settings = every_channel(tmp_path, db_url, fake_telegram, fake_twilio, fake_wechat)
    db = Database(db_url)
    try:
        adapters = build_adapters(settings, MediaStore(tmp_path / "media", 1_000_000), db=db)
        assert sorted(adapters) == ["email", "telegram", "wechat", "whatsapp"]
        for name, adapter in adapters.items():
            for role in (Adapter, *ROLES[name]):
                assert isinstance(adapter, role), f"{name} is not a {role.__name__}"
            assert isinstance(adapter, Sender) and isinstance(adapter.capabilities, Capabilities)
        check_roles(adapters)  # the real adapters pass the wiring check
        # email is pulled, not pushed: no webhook role, no stubbed verify/parse any more
        assert isinstance(adapters["email"], PollingIngress)
        assert not isinstance(adapters["email"], WebhookIngress)
        for name in ("telegram", "whatsapp", "wechat"):
            assert not isinstance(adapters[name], PollingIngress)
        caps = {name: a.capabilities for name, a in adapters.items() if isinstance(a, Sender)}
        assert caps["telegram"].buttons and caps["telegram"].edits
        assert not any(caps[n].buttons or caps[n].edits for n in ("whatsapp", "wechat", "email"))
    finally:
        await db.dispose()


class NoSender:
    """Receives and fetches, but cannot send: not good enough for a channel that replies."""

    channel = "telegram"
    webhook_path = "/webhooks/telegram"

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    def verify_headers(self, head: Any) -> None: ...
    async def verify(self, request: Any) -> None: ...
    def parse(self, request: Any) -> list[Any]:
        return []

    async def respond(self, request: Any, messages: Any, stored: Any) -> Any: ...
    async def fetch_media(self, attachment: Attachment) -> Attachment:
        return attachment


class Sends(NoSender):
    capabilities = Capabilities(buttons=True, edits=True)

    async def send(self, out: Any) -> str:
        return "1"


class SendsWithoutCapabilities(NoSender):
    capabilities = {"buttons": True}

    async def send(self, out: Any) -> str:
        return "1"


def test_wiring_refuses_an_adapter_missing_a_role_it_is_configured_for() -> None:
    with pytest.raises(MissingRole) as err:
        check_roles({"telegram": NoSender()})
    assert "'telegram'" in str(err.value) and "Sender" in str(err.value)
    with pytest.raises(MissingRole) as err:
        check_roles({"email": Sends()})  # a webhook adapter wired where a poller is expected
    assert "PollingIngress" in str(err.value) and "'email'" in str(err.value)
    with pytest.raises(MissingRole) as err:
        check_roles({"telegram": SendsWithoutCapabilities()})
    assert "capabilities" in str(err.value)
    # positive control: the same adapter with a sender and declared capabilities is accepted
    check_roles({"telegram": Sends()})
    assert isinstance(Sends(), MediaFetcher) and isinstance(Sends(), WebhookIngress)


def test_no_adapter_imports_the_web_framework() -> None:
    """import-linter cannot forbid a submodule of an external package; the adapters' imports are read here."""
    import ast

    import channels

    offenders = []
    for path in Path(channels.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "aiohttp":
                names = {a.name for a in node.names}
                if "web" in names:
                    offenders.append(path.name)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aiohttp.web"):
                offenders.append(path.name)
            elif isinstance(node, ast.Import) and any(a.name.startswith("aiohttp.web") for a in node.names):
                offenders.append(path.name)
    assert offenders == []
