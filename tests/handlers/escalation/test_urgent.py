"""Urgency detection: word boundaries, Chinese substrings, patterns, negations; repeated or upset clients."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select

from escalation.keywords import load_keywords
from storage.models import Conversation, Escalation
from tests.conftest import BotHarness
from tests.fakes.oncall import (
    ACME_CHAT,
    HAILANG_CHAT,
    LI,
    alerts_to,
    escalation_settings,
    start_bot,
    write_rota,
)
from tests.fakes.telegram import FakeTelegram, message_update

MATCHER = load_keywords("config/urgent_keywords.toml")


@pytest.mark.parametrize(
    "text",
    [
        "URGENT: the shipment",
        "please reply asap",
        "we have an emergency",
        "our container stuck in Hamburg",
        "goods are stuck at customs",
        "紧急！",
        "请加急处理",
        "海关扣货了",
        "货柜在港口滞留",
        "This is not urgent. But the container stuck at the port now!",  # the hit is in another sentence
    ],
)
def test_urgent_texts_hit(text: str) -> None:
    assert MATCHER.find(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "not urgent, just asking about the invoice",
        "No rush, whenever you can — asap is fine too",
        "不急，想问一下发票",
        "这个不紧急",
        "I need an asapx adapter",  # no word boundary
        "surgently",  # "urgent" inside another word
        "where is my order?",
    ],
)
def test_calm_or_negated_texts_do_not_hit(text: str) -> None:
    assert MATCHER.find(text) is None


@pytest_asyncio.fixture
async def bot(tmp_path: Path, db_url: str, fake_telegram: FakeTelegram):  # type: ignore[no-untyped-def]
    h = await start_bot(escalation_settings(tmp_path, db_url, fake_telegram, write_rota(tmp_path, level2=60)))
    yield h
    await h.close()


async def escalations(h: BotHarness) -> list[tuple[str, str]]:
    async with h.db.read() as s:
        return [
            (e.reason, e.priority)
            for e in (await s.execute(select(Escalation).order_by(Escalation.id))).scalars()
        ]


async def test_negated_urgency_is_not_paged(bot: BotHarness, fake_telegram: FakeTelegram) -> None:
    await bot.post_telegram(message_update(ACME_CHAT, text="Not urgent: can you resend the invoice?"))
    await bot.post_telegram(message_update(HAILANG_CHAT, text="不急，麻烦发一下装箱单"))
    await bot.settled()
    assert await escalations(bot) == []
    assert fake_telegram.texts_to(LI) == []
    async with bot.db.read() as s:
        assert set((await s.execute(select(Conversation.priority))).scalars()) == {"normal"}


async def test_urgent_message_sets_priority_and_acknowledges_client_once(
    bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await bot.post_telegram(message_update(ACME_CHAT, text="URGENT, customs hold on our order"))
    await fake_telegram.wait_for(lambda f: alerts_to(f, LI))
    await bot.post_telegram(message_update(ACME_CHAT, text="still urgent!!"))
    await bot.settled()
    assert await escalations(bot) == [("urgent", "urgent")]  # raised, not duplicated
    assert len(alerts_to(fake_telegram, LI)) == 1
    acks = [t for t in fake_telegram.texts_to(ACME_CHAT) if "alerted the colleague on call" in t]
    assert len(acks) == 1
    # the alert answered it: no "did not understand" and no menu after the urgent notice
    assert not any("did not understand" in t for t in fake_telegram.texts_to(ACME_CHAT))
    assert not any("How can we help" in t for t in fake_telegram.texts_to(ACME_CHAT))
    async with bot.db.read() as s:
        assert set((await s.execute(select(Conversation.priority))).scalars()) == {"urgent"}


async def test_handoff_then_urgent_raises_the_same_escalation(
    bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await bot.post_telegram(message_update(ACME_CHAT, text="talk to a person please"))
    await fake_telegram.wait_for(lambda f: len(alerts_to(f, LI)) == 1)
    await bot.settled()
    await bot.post_telegram(message_update(ACME_CHAT, text="it is an emergency"))
    await fake_telegram.wait_for(lambda f: len(alerts_to(f, LI)) == 2)
    assert "URGENT" in alerts_to(fake_telegram, LI)[-1]
    assert await escalations(bot) == [("urgent", "urgent")]


async def test_a_client_repeating_themselves_three_times_is_escalated(
    bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    for _ in range(3):
        await bot.post_telegram(message_update(ACME_CHAT, text="Where is my refund"))
        await bot.settled()
    await fake_telegram.wait_for(lambda f: alerts_to(f, LI))
    assert await escalations(bot) == [("repeat", "normal")]
    texts = fake_telegram.texts_to(ACME_CHAT)
    assert any("asked a colleague to step in" in t for t in texts)
    assert sum("did not understand" in t for t in texts) == 2  # the first two only; not after the call


async def test_an_angry_client_three_times_in_a_row_is_escalated(
    bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    for text in ("this is ridiculous", "太差了", "unacceptable service"):
        await bot.post_telegram(message_update(ACME_CHAT, text=text))
        await bot.settled()
    await fake_telegram.wait_for(lambda f: alerts_to(f, LI))
    assert await escalations(bot) == [("repeat", "normal")]


async def test_an_urgent_question_the_bot_understands_is_still_answered(
    bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await bot.post_telegram(message_update(ACME_CHAT, text="URGENT where is PO-2026-0117"))
    await fake_telegram.wait_for(lambda f: alerts_to(f, LI))
    await bot.settled()
    texts = fake_telegram.texts_to(ACME_CHAT)
    assert any("alerted the colleague on call" in t for t in texts)
    assert any("PO-2026-0117" in t for t in texts)  # the order status, after the urgent notice
    assert not any("did not understand" in t for t in texts)
