"""Staff read their pages, status edits and command answers in the language the rota gives them.

Li's rota entry says `language = "zh"`, Anna's says nothing (English); the client keeps the
conversation's language whoever is paged.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from storage.models import Staff
from tests.conftest import BotHarness
from tests.fakes.oncall import (
    ACME_CHAT,
    ANNA,
    LI,
    Clock,
    alert_message_id,
    escalation_settings,
    start_bot,
    write_rota,
)
from tests.fakes.telegram import FakeTelegram, callback_update, message_update


def chinese_li(tmp_path: Path) -> str:
    path = Path(write_rota(tmp_path, level2=60))
    text = path.read_text().replace('name = "Li Wei"\n', 'name = "Li Wei"\nlanguage = "zh"\n', 1)
    path.write_text(text)
    return str(path)


async def answer_to(h: BotHarness, fake: FakeTelegram, chat: int, text: str) -> str:
    before = len(fake.texts_to(chat))
    await h.post_telegram(message_update(chat, text=text))
    await fake.wait_for(lambda f: len(f.texts_to(chat)) > before)
    return fake.texts_to(chat)[-1]


async def test_chinese_staff_get_chinese_pages_english_staff_and_client_stay_english(
    tmp_path: Path, db_url: str, fake_telegram: FakeTelegram
) -> None:
    h = await start_bot(escalation_settings(tmp_path, db_url, fake_telegram, chinese_li(tmp_path)), Clock())
    try:
        async with h.db.read() as s:
            rows = {r.key: r.language for r in (await s.execute(select(Staff))).scalars()}
        assert (rows["li"], rows["anna"]) == ("zh", "en")  # synchronised from the rota

        await h.post_telegram(message_update(ACME_CHAT, text="URGENT: container stuck at the port"))
        await fake_telegram.wait_for(lambda f: any("ESC-000001" in t for t in f.texts_to(LI)))
        [page] = [t for t in fake_telegram.texts_to(LI) if "ESC-000001" in t]
        assert "紧急消息" in page and "第 1 级，第 1 轮" in page and "回复“ack”或 /ack 1 接手" in page
        assert "URGENT message" not in page and "Level" not in page
        call = next(c for c in fake_telegram.sent("sendMessage") if str(c.params["chat_id"]) == str(LI))
        assert "确认接手" in str(call.params["reply_markup"]) and "esc:ack:1" in str(
            call.params["reply_markup"]
        )
        # the English client is told in English
        await fake_telegram.wait_for(
            lambda f: any("marked this as urgent" in t for t in f.texts_to(ACME_CHAT))
        )

        await h.settled()
        alert_id = await alert_message_id(h, "li")
        await h.post_telegram(callback_update(LI, "esc:ack:1", message_id=alert_id))
        [edit] = await fake_telegram.wait_sent(1, "editMessageText")
        assert "Li Wei 已接手" in edit.params["text"]
        assert "已解决" in str(edit.params["reply_markup"])
        await fake_telegram.wait_for(lambda f: any("ESC-000001 由您负责" in t for t in f.texts_to(LI)))
        await h.settled()

        mine = await answer_to(h, fake_telegram, LI, "/mine")
        assert mine.startswith("您的未结升级：") and "ESC-000001" in mine
        # positive control: an English staff member asking the same gets English
        assert await answer_to(h, fake_telegram, ANNA, "/mine") == "You have no open escalations."
        assert (
            await answer_to(h, fake_telegram, ANNA, "/ack 1")
        ) == "ESC-000001 was already acknowledged by li."
        await h.post_telegram(message_update(LI, text="/close 1"))
        await fake_telegram.wait_for(lambda f: "ESC-000001 已解决；机器人重新接待客户。" in f.texts_to(LI))
        await fake_telegram.wait_for(lambda f: any(t.endswith("✔️ Li Wei 已解决") for t in f.texts_to(LI)))
    finally:
        await h.close()
