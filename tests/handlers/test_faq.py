"""Technical questions: a confident FAQ match is answered; anything else goes to a person, never a guess."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from escalation.faq import load_faq, parse_faq
from escalation.rota import RotaError
from storage.models import Escalation
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

FAQ = load_faq("config/faq.toml")


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("What is your MOQ?", "moq"),
        ("what's the minimum order quantity", "moq"),
        ("你们的起订量是多少？", "moq"),
        ("How long does production take?", "lead_time"),
        ("交期多久", "lead_time"),
        ("Can the bag be machine washed?", "care"),
        ("包可以机洗吗", "care"),
        ("Is the backpack waterproof?", "waterproof"),
    ],
)
def test_confident_matches(text: str, entry: str) -> None:
    match = FAQ.answer(text)
    assert match is not None and match.entry.id == entry


@pytest.mark.parametrize(
    "text",
    [
        "What is the tensile strength of the strap webbing?",
        "Do you offer a lifetime warranty on zippers?",
        "面料的克重是多少？",
    ],
)
def test_unsure_questions_have_no_answer(text: str) -> None:
    assert FAQ.is_inquiry(text)
    assert FAQ.answer(text) is None


def test_faq_entry_without_chinese_answer_is_rejected() -> None:
    with pytest.raises(RotaError) as info:
        parse_faq({"entries": [{"id": "x", "keywords_en": ["x"], "answer_en": "yes"}]}, "faq.toml")
    assert info.value.entry == "entries[0].answer_zh"


async def test_faq_answers_in_the_clients_language_and_hands_off_when_unsure(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    h = await start_bot(escalation_settings(tmp_path, db_url, fake_telegram, write_rota(tmp_path)))
    try:
        await h.post_telegram(message_update(ACME_CHAT, text="What is your MOQ?"))
        await h.post_telegram(message_update(HAILANG_CHAT, text="包可以机洗吗？"))
        await fake_telegram.wait_for(lambda f: any("500 pieces" in t for t in f.texts_to(ACME_CHAT)))
        await fake_telegram.wait_for(lambda f: any("请勿机洗" in t for t in f.texts_to(HAILANG_CHAT)))
        await h.settled()
        assert fake_telegram.texts_to(LI) == []  # answered: nobody paged

        await h.post_telegram(
            message_update(ACME_CHAT, text="What is the tensile strength of the strap webbing?")
        )
        await fake_telegram.wait_for(lambda f: alerts_to(f, LI))
        assert "tensile strength" in alerts_to(fake_telegram, LI)[0]
        await fake_telegram.wait_for(lambda f: any("don't want to guess" in t for t in f.texts_to(ACME_CHAT)))
        async with h.db.read() as s:
            assert [e.reason for e in (await s.execute(select(Escalation))).scalars()] == ["faq"]
    finally:
        await h.close()
