"""The per-contact flood limit, end to end: real webhook route, fake Bot API, a movable clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from config.settings import ServerSettings
from storage.models import Escalation, Message
from tests.conftest import ADMIN_TOKEN, BotHarness, make_settings, telegram_settings
from tests.fakes.oncall import Clock
from tests.fakes.telegram import FakeTelegram, message_update

ACME_CHAT = 5550001  # demo client "acme", English
HAILANG_CHAT = 5550002  # demo client "hailang", Chinese
DUTY_PHONE = 9901  # the test rota's one on-call phone (tests/fakes/rota.toml)
NOTICE_EN = "pausing my replies"
NOTICE_ZH = "暂停回复"
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]


async def flood_bot(harness_factory: Any, tmp_path: Path, db_url: str, fake: FakeTelegram, limit: int) -> Any:
    from bot.tools.demo import seed

    settings = make_settings(
        tmp_path,
        db_url,
        telegram=telegram_settings(fake),
        server=ServerSettings(
            admin_token=ADMIN_TOKEN, public_url="http://127.0.0.1:8080", flood_per_minute=limit
        ),
    )
    h = await harness_factory(settings)
    await seed(h.db)
    clock = Clock()
    h.runtime.writer.clock = clock
    return h, clock


async def send(h: BotHarness, chat: int, texts: list[str]) -> None:
    for text in texts:
        resp = await h.post_telegram(message_update(chat, text=text))
        assert resp.status == 200


async def stored_from(h: BotHarness, chat: int) -> int:
    async with h.db.read() as s:
        query = select(func.count()).where(Message.direction == "in", Message.channel_user_id == str(chat))
        return int((await s.execute(query)).scalar_one())


async def flood_escalations(h: BotHarness) -> int:
    async with h.db.read() as s:
        query = select(func.count()).select_from(Escalation).where(Escalation.reason == "flood")
        return int((await s.execute(query)).scalar_one())


def pages(fake: FakeTelegram) -> list[str]:
    return [t for t in fake.texts_to(DUTY_PHONE) if "ESC-" in t]


async def test_eight_messages_in_a_minute_get_five_replies_one_notice_and_one_page(
    harness_factory: Any, tmp_path: Path, any_db_url: str, fake_telegram: FakeTelegram
) -> None:
    h, clock = await flood_bot(harness_factory, tmp_path, any_db_url, fake_telegram, limit=5)
    await send(h, ACME_CHAT, [f"hello {w}" for w in WORDS[:8]])
    await h.settled()

    replies = fake_telegram.texts_to(ACME_CHAT)
    assert len(replies) == 6, replies
    assert all(NOTICE_EN not in r for r in replies[:5])  # the first five were answered as usual
    assert NOTICE_EN in replies[5] and "saved" in replies[5]  # then one notice, then silence
    assert await stored_from(h, ACME_CHAT) == 8  # every message is still stored
    async with h.db.read() as s:
        unhandled = select(func.count()).where(Message.direction == "in", Message.handled_at.is_(None))
        assert (await s.execute(unhandled)).scalar_one() == 0  # and handled: no sweep retries them
    [page] = pages(fake_telegram)  # staff alerted exactly once for the flood
    assert "Message flood" in page and str(ACME_CHAT) in page
    assert await flood_escalations(h) == 1

    # More of the same minute: still nothing, no second notice, no second page.
    await send(h, ACME_CHAT, ["hello kilo", "hello lima"])
    await h.settled()
    assert len(fake_telegram.texts_to(ACME_CHAT)) == 6
    assert len(pages(fake_telegram)) == 1

    clock.advance(61)  # the minute has passed: the contact is answered again
    await send(h, ACME_CHAT, ["hello mike"])
    await h.settled()
    replies = fake_telegram.texts_to(ACME_CHAT)
    assert len(replies) == 7 and NOTICE_EN not in replies[6]
    assert await stored_from(h, ACME_CHAT) == 11
    assert len(pages(fake_telegram)) == 1


async def test_five_messages_in_a_minute_are_all_answered_without_notice(
    harness_factory: Any, tmp_path: Path, any_db_url: str, fake_telegram: FakeTelegram
) -> None:
    h, _clock = await flood_bot(harness_factory, tmp_path, any_db_url, fake_telegram, limit=5)
    await send(h, ACME_CHAT, [f"hello {w}" for w in WORDS[:5]])
    await h.settled()
    replies = fake_telegram.texts_to(ACME_CHAT)
    assert len(replies) == 5 and not any(NOTICE_EN in r for r in replies)
    assert pages(fake_telegram) == [] and await flood_escalations(h) == 0


async def test_limit_is_per_contact_and_the_notice_is_in_the_clients_language(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    h, _clock = await flood_bot(harness_factory, tmp_path, db_url, fake_telegram, limit=3)
    await send(h, HAILANG_CHAT, ["你好", "你好呀", "您好", "早上好", "晚上好"])
    await send(h, ACME_CHAT, [f"hello {w}" for w in WORDS[:3]])  # another contact: not limited
    await h.settled()
    zh = fake_telegram.texts_to(HAILANG_CHAT)
    assert len(zh) == 4 and NOTICE_ZH in zh[3] and all(NOTICE_ZH not in r for r in zh[:3])
    en = fake_telegram.texts_to(ACME_CHAT)
    assert len(en) == 3 and not any(NOTICE_EN in r for r in en)
    assert len(pages(fake_telegram)) == 1


async def test_urgent_message_during_a_flood_is_stored_but_neither_answered_nor_paged_again(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    h, _clock = await flood_bot(harness_factory, tmp_path, db_url, fake_telegram, limit=2)
    await send(h, ACME_CHAT, ["hello alpha", "hello bravo", "hello charlie", "URGENT our container is held"])
    await h.settled()
    replies = fake_telegram.texts_to(ACME_CHAT)
    assert len(replies) == 3 and NOTICE_EN in replies[2]
    assert len(pages(fake_telegram)) == 1  # the flood's page; the urgent words page nobody again
    async with h.db.read() as s:
        texts = list((await s.execute(select(Message.text).where(Message.direction == "in"))).scalars())
    assert "URGENT our container is held" in texts


async def test_urgent_message_under_the_limit_still_pages(
    harness_factory: Any, tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    """Positive control for the test above: the same messages, a limit they stay under."""
    h, _clock = await flood_bot(harness_factory, tmp_path, db_url, fake_telegram, limit=10)
    await send(h, ACME_CHAT, ["hello alpha", "hello bravo", "hello charlie", "URGENT our container is held"])
    await h.settled()
    assert not any(NOTICE_EN in r for r in fake_telegram.texts_to(ACME_CHAT))
    [page] = pages(fake_telegram)
    assert "URGENT" in page
