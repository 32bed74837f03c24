"""Claim dialogs keep bounded state, and the client is told when a bound is hit (Telegram end to end)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest_asyncio
from sqlalchemy import func, select

from config.settings import ServerSettings
from handlers.claims.caps import MAX_DESCRIPTION, MAX_FILES
from storage.models import ClaimEvidence, Conversation
from tests.claim_fixtures import (
    ACME_CHAT,
    HAILANG_CHAT,
    all_claims,
    jpeg,
    one_claim,
    photo,
    say,
    seed_orders,
    seed_staff,
    send_photo,
)
from tests.conftest import ADMIN_TOKEN, make_settings, telegram_settings
from tests.fakes.telegram import FakeTelegram

LONG = 144_000  # one long mail's worth of text
DESCRIPTION_NOTICE = f"I kept the first {MAX_DESCRIPTION:,} characters"
FILES_NOTICE = f"already has {MAX_FILES} files"


@pytest_asyncio.fixture
async def caps_bot(harness_factory: Any, tmp_path: Path, any_db_url: str, fake_telegram: FakeTelegram) -> Any:
    """The claims bot, with a flood limit high enough for 25 photos in a row."""
    from bot.tools.demo import seed

    server = ServerSettings(admin_token=ADMIN_TOKEN, public_url="http://127.0.0.1:8080", flood_per_minute=200)
    settings = make_settings(tmp_path, any_db_url, telegram=telegram_settings(fake_telegram), server=server)
    bot = await harness_factory(settings)
    await seed(bot.db)
    await seed_orders(bot.db)
    await seed_staff(bot.db)
    return bot


def long_report(tag: str) -> str:
    """About 144 KB of complaint, different for each tag, without digits (no quantities, no orders)."""
    sentence = f"Report {tag}: the strap is torn and the stitching came loose on this carton. "
    return (sentence * (LONG // len(sentence) + 1))[:LONG]


async def dialog_state(bot: Any) -> dict[str, Any]:
    async with bot.db.read() as s:
        conv = (await s.execute(select(Conversation).order_by(Conversation.id.desc()))).scalars().first()
        assert conv is not None
        return dict(conv.dialog_state or {})


async def evidence_count(bot: Any) -> int:
    async with bot.db.read() as s:
        return int((await s.execute(select(func.count()).select_from(ClaimEvidence))).scalar_one())


def notices(fake: FakeTelegram, chat: int, marker: str) -> list[str]:
    return [t for t in fake.texts_to(chat) if marker in t]


async def test_five_long_texts_keep_a_bounded_draft_and_the_client_is_told_once(
    caps_bot: Any, fake_telegram: FakeTelegram
) -> None:
    for tag in ("alpha", "bravo", "charlie", "delta", "echo"):
        await say(caps_bot, ACME_CHAT, long_report(tag))
    await caps_bot.settled(timeout=30)

    state = await dialog_state(caps_bot)
    assert state.get("description") and len(state["description"]) == MAX_DESCRIPTION
    assert state["description"].startswith("Report alpha: the strap is torn")  # the first characters
    assert len(json.dumps(state, ensure_ascii=False)) < 16_000  # was 720 KB and growing with each message
    assert len(notices(fake_telegram, ACME_CHAT, DESCRIPTION_NOTICE)) == 1

    # The claim the draft becomes keeps the capped description.
    await send_photo(caps_bot, fake_telegram, ACME_CHAT, jpeg(photo(1)), caption="PO-2026-0117", file_id="P1")
    await caps_bot.settled(timeout=30)
    for answer in ("5 pcs", "unused"):
        if not await all_claims(caps_bot.db):
            await say(caps_bot, ACME_CHAT, answer)
            await caps_bot.settled(timeout=30)
    claim = await one_claim(caps_bot.db)
    assert len(claim.description) == MAX_DESCRIPTION and claim.order_number == "PO-2026-0117"
    assert len(notices(fake_telegram, ACME_CHAT, DESCRIPTION_NOTICE)) == 1


async def test_a_short_description_is_kept_whole_without_notice(
    caps_bot: Any, fake_telegram: FakeTelegram
) -> None:
    """Positive control: an ordinary report is neither cut nor commented on."""
    await send_photo(
        caps_bot,
        fake_telegram,
        ACME_CHAT,
        jpeg(photo(1)),
        caption="PO-2026-0117 strap torn, goods unused",
        file_id="P1",
    )
    await caps_bot.settled()
    claim = await one_claim(caps_bot.db)
    assert claim.description == "strap torn, goods unused"
    assert notices(fake_telegram, ACME_CHAT, DESCRIPTION_NOTICE) == []


async def test_an_open_claim_keeps_at_most_the_file_cap_and_says_so_once_per_album(
    caps_bot: Any, fake_telegram: FakeTelegram
) -> None:
    pictures = [jpeg(photo(100 + i)) for i in range(25)]
    await send_photo(
        caps_bot,
        fake_telegram,
        ACME_CHAT,
        pictures[0],
        caption="PO-2026-0117 strap torn, goods unused",
        file_id="F0",
        media_group_id="ALBUM",
    )
    for i in range(1, MAX_FILES):
        await send_photo(
            caps_bot, fake_telegram, ACME_CHAT, pictures[i], file_id=f"F{i}", media_group_id="ALBUM"
        )
    await caps_bot.settled(timeout=60)
    assert await evidence_count(caps_bot) == MAX_FILES
    assert notices(fake_telegram, ACME_CHAT, FILES_NOTICE) == []  # up to the cap: no notice

    for i in range(MAX_FILES, 25):
        await send_photo(
            caps_bot, fake_telegram, ACME_CHAT, pictures[i], file_id=f"F{i}", media_group_id="ALBUM"
        )
    await caps_bot.settled(timeout=60)
    assert await evidence_count(caps_bot) == MAX_FILES
    claim = await one_claim(caps_bot.db)
    [notice] = notices(fake_telegram, ACME_CHAT, FILES_NOTICE)
    assert claim.number in notice and "new claim" in notice


async def test_a_draft_keeps_at_most_the_file_cap_and_the_notice_is_in_chinese(
    caps_bot: Any, fake_telegram: FakeTelegram
) -> None:
    pictures = [jpeg(photo(200 + i)) for i in range(25)]
    await send_photo(
        caps_bot,
        fake_telegram,
        HAILANG_CHAT,
        pictures[0],
        caption="拉链坏了",
        file_id="D0",
        media_group_id="A2",
    )
    for i in range(1, 25):
        await send_photo(
            caps_bot, fake_telegram, HAILANG_CHAT, pictures[i], file_id=f"D{i}", media_group_id="A2"
        )
    await caps_bot.settled(timeout=60)
    state = await dialog_state(caps_bot)
    assert len(state["evidence"]) == MAX_FILES
    assert await all_claims(caps_bot.db) == []  # still a draft: the bot asked for the order
    [notice] = notices(fake_telegram, HAILANG_CHAT, f"已有 {MAX_FILES} 个文件")
    assert "新建索赔" in notice
