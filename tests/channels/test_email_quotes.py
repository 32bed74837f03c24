"""Quote and signature trimming (channels/email_quotes.py) on what mail clients really write.

`REPLY_CASES` is also the labelled set `bench/email_reply_parsers.py` scores reply parsers on:
each body as a client's mail program lays it out, and what the client wrote this time.
"""

from __future__ import annotations

import re

import pytest

from channels.email_quotes import trim_quoted
from channels.email_text import strip_reply_prefixes
from tests.channels.test_email import ACME, HAILANG, bot, inbound, mail, make_bot
from tests.conftest import BotHarness
from tests.fakes.dovecot import Dovecot, append, dovecot_fixture
from tests.fakes.smtp import FakeSmtp

FIXTURES = (bot, make_bot, dovecot_fixture)  # the email tests' bot, reused here

OLD = "Support <support@factory.example>"
REPLY_CASES: list[tuple[str, str, str]] = [
    ("gmail-en", f"Thanks, PO-2026-0117 please.\n\nOn Tue, Jun 2, 2026 at 9:00 AM {OLD} wrote:\n"
     f"> Which order?\n",
     "Thanks, PO-2026-0117 please."),
    ("gmail-en-wrapped", f"Sure\n\nOn Tue, Jun 2, 2026 at 9:00 AM {OLD}\nwrote:\n\n> old question\n", "Sure"),
    ("outlook-en", "Please check.\n\n-----Original Message-----\nFrom: Support\nSent: Tuesday, June 2, 2026 "
     "9:00 AM\nTo: Anna\nSubject: RE: order\n\nold text", "Please check."),
    ("outlook-en-rule", f"Please check.\n\n________________________________\nFrom: {OLD}\nSent: Tuesday, "
     "June 2, 2026 9:00 AM\nTo: Anna\nSubject: RE: order\n\nold text", "Please check."),
    ("outlook-en-block", f"Please check.\n\nFrom: {OLD}\nSent: Tuesday, June 2, 2026\nTo: Anna\n"
     "Subject: order\n\nold text", "Please check."),
    ("outlook-zh-cn", f"请尽快处理。\n\n-----邮件原件-----\n发件人: {OLD}\n发送时间: 2026年6月2日 9:00\n"
     "收件人: 采购部\n主题: 订单\n\n旧内容", "请尽快处理。"),
    ("outlook-zh-tw", f"請盡快處理。\n\n-----原始郵件-----\n寄件者: {OLD}\n寄件日期: 2026年6月2日 上午 09:00\n"  # noqa: E501
     "收件者: 採購部\n主旨: 訂單\n\n舊內容", "請盡快處理。"),
    ("outlook-zh-cn-block", "好的，谢谢。\n\n发件人: Support [mailto:support@factory.example]\n"
     "发送时间: 2026年6月2日 9:00\n收件人: 采购部\n主题: 答复: 订单\n\n旧内容", "好的，谢谢。"),
    ("outlook-zh-tw-block", f"收到。\n\n寄件者: {OLD}\n寄件日期: 2026年6月2日\n收件者: 採購部\n"
     "主旨: 回覆: 訂單\n\n舊內容", "收到。"),
    ("foxmail-qq", "好的\n\n------------------ 原始邮件 ------------------\n发件人: \"Support\"<s@f.example>;\n"  # noqa: E501
     "发送时间: 2026年6月2日(星期二) 上午9:00\n收件人: \"采购部\"<c@h.example>;\n主题: 订单\n\n旧内容", "好的"),  # noqa: E501
    ("gmail-zh", f"拉链坏了，订单PO-2026-0117\n\n{OLD} 于2026年6月2日周二 09:00写道：\n\n> 请问是哪个订单？\n",  # noqa: E501
     "拉链坏了，订单PO-2026-0117"),
    ("apple-zh", f"好的\n\n在 2026年6月2日，09:00，{OLD} 写道：\n\n> 旧\n", "好的"),
    ("interleaved-en", f"Hi,\n\nOn Tue, Jun 2, 2026 at 9:00 AM {OLD} wrote:\n> Which order is it?\n"
     "PO-2026-0117\n> Is the bag unused?\nYes, unused.\n", "Hi,\n\nPO-2026-0117\nYes, unused."),
    ("interleaved-zh", f"您好，\n\n在 2026年6月2日 09:00，{OLD} 写道：\n> 请问订单号？\nPO-2026-0117\n"
     "> 包是否未使用？\n未使用。\n", "您好，\n\nPO-2026-0117\n未使用。"),
    ("interleaved-bare", "> Which order?\nPO-2026-0117\n> Photos?\nAttached.", "PO-2026-0117\nAttached."),
    ("bottom-post", f"On Tue, Jun 2, 2026, {OLD} wrote:\n> Which order?\n\nIt is PO-2026-0117.",
     "It is PO-2026-0117."),
    ("apple-de", f"Danke, anbei die Fotos.\n\nAm 02.06.2026 um 09:00 schrieb {OLD}:\n> Welche Bestellung?\n",
     "Danke, anbei die Fotos."),
    ("outlook-de", f"Bitte prüfen.\n\n-----Ursprüngliche Nachricht-----\nVon: {OLD}\nGesendet: Dienstag, "
     "2. Juni 2026 09:00\nAn: Anna\nBetreff: Bestellung\n\nalt", "Bitte prüfen."),
    ("gmail-fr", f"Merci.\n\nLe mar. 2 juin 2026 à 09:00, {OLD} a écrit :\n> Quelle commande ?\n", "Merci."),
    ("signature", "Strap torn on PO-2026-0117.\n\n-- \nAnna Buyer\nAcme Ltd", "Strap torn on PO-2026-0117."),
    ("iphone", "Photo attached\n\nSent from my iPhone", "Photo attached"),
    ("iphone-zh", "照片已附上\n\n发自我的iPhone", "照片已附上"),
    ("gmail-zh-forward", "请看下面的邮件\n\n---------- 转发的邮件 ---------\n发件人: 物流 <l@x.example>\n"
     "日期: 2026年6月2日\n主题: 清关\n\n货柜被扣", "请看下面的邮件"),
    ("from-in-prose", "From: the factory in Dongguan, the bags arrived torn.\nPlease advise.",
     "From: the factory in Dongguan, the bags arrived torn.\nPlease advise."),
    ("no-quote", "PO-2026-0117 status?", "PO-2026-0117 status?"),
]  # fmt: skip


def same(a: str, b: str) -> bool:
    return re.sub(r"\s+", " ", a).strip() == re.sub(r"\s+", " ", b).strip()


@pytest.mark.parametrize(("name", "body", "expected"), REPLY_CASES, ids=[c[0] for c in REPLY_CASES])
def test_what_the_client_wrote_this_time(name: str, body: str, expected: str) -> None:
    assert same(trim_quoted(body), expected), trim_quoted(body)


# ---- through the real route: Dovecot, the poller, the engine ------------------------------------


async def test_chinese_outlook_history_is_trimmed_and_the_reply_is_about_what_was_written(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    body = (
        "我要和人工客服谈谈\n\n-----原始郵件-----\n寄件者: Support <support@factory.example>\n"
        "寄件日期: 2026年6月2日 上午 09:00\n收件者: 採購部\n主旨: 訂單\n\n請問訂單 PO-2026-0117 的狀態？\n"
    )
    raw, _ = mail(body, sender=HAILANG, subject="回覆: 訂單")
    await append(dovecot, raw)
    [got] = await smtp.wait_to(HAILANG)
    assert got.message["Subject"] == "回覆: 訂單"  # not "Re: 回覆: 訂單"
    await bot.settled()
    [row] = await inbound(bot)
    assert row.text == "我要和人工客服谈谈"
    assert "PO-2026-0117" in row.payload["extra"]["full_text"]


async def test_an_interleaved_answer_is_kept_and_only_the_quote_dropped(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    body = (
        f"Hi,\n\nOn Tue, Jun 2, 2026 at 9:00 AM {OLD} wrote:\n> Which order is it?\nPO-2026-0117\n"
        "> How can we help?\nI want to talk to a person\n"
    )
    raw, _ = mail(body, subject="Re: Question")
    await append(dovecot, raw)
    [got] = await smtp.wait_to(ACME)
    assert "colleague" in got.text  # the answer written between the quotes was understood
    await bot.settled()
    [row] = await inbound(bot)
    assert row.text == "Hi,\n\nPO-2026-0117\nI want to talk to a person"


async def test_a_mail_with_no_text_is_read_by_its_subject_without_reply_prefixes(
    bot: BotHarness, dovecot: Dovecot, smtp: FakeSmtp
) -> None:
    raw, _ = mail("", sender=HAILANG, subject="答复: 回复：转发: 我要和人工客服谈谈")
    await append(dovecot, raw)
    await smtp.wait_to(HAILANG)
    await bot.settled()
    [row] = await inbound(bot)
    assert row.text == "我要和人工客服谈谈"


def test_reply_and_forward_prefixes_of_every_client_are_stripped() -> None:
    prefixed = [
        "Re: 拉链",
        "答复: 拉链",
        "回复：拉链",
        "回覆: 拉链",
        "答覆：拉链",
        "转发: 拉链",
        "轉寄: 拉链",
    ]
    for subject in [*prefixed, "RE: Fwd: AW: WG: 拉链", "Re[2]: 拉链"]:
        assert strip_reply_prefixes(subject) == "拉链", subject
