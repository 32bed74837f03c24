"""The console's templates: hostile text stays text on every page, and pages speak the reader's language.

Pages are fetched through the real routes and read with a real HTML parser, which is how a
browser would see them: an injected `<script>` or `onerror=` would be an element or an
attribute there, not just a substring.
"""

from __future__ import annotations

import html as htmllib
import re
from html.parser import HTMLParser

from sqlalchemy import select, update

from bot.i18n import available_languages
from storage.models import AttachmentRow, Claim, ClaimEvent, Client, Contact, Escalation, Staff
from tests.bot.web.console.test_views import ACME_CHAT, add_staff, client_wrote, csrf_of, login
from tests.conftest import BotHarness
from tests.fakes.telegram import FakeTelegram, message_update

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
HOSTILE = f"{SCRIPT}{BREAKOUT}"


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser's tokenizer would split them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    return parser


def assert_inert(page: str, path: str) -> None:
    doc = parse(page)
    scripts = [a for tag, a in doc.tags if tag == "script"]
    assert scripts == [{"src": "/console/static/console.js", "defer": None}], path
    handlers = [(tag, name) for tag, attrs in doc.tags for name in attrs if name.startswith("on")]
    assert handlers == [], path
    assert all(a.get("src", "").startswith("/media/") for tag, a in doc.tags if tag == "img"), path
    assert SCRIPT not in page and "<img src=x" not in page, path
    # and the text is there, as text: what a person reading the page sees
    assert SCRIPT in "".join(doc.text), path
    assert BREAKOUT in "".join(doc.text), path


async def test_hostile_text_names_and_file_names_are_escaped_on_every_page(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await add_staff(tg_bot, name=f"Li {HOSTILE}")
    fake_telegram.add_file("DOC1", b"just a packing list")
    document = {
        "file_id": "DOC1",
        "file_unique_id": "doc1",
        "file_name": f"{HOSTILE}.txt",
        "mime_type": "text/plain",
        "file_size": 19,
    }
    conv_id = await client_wrote(tg_bot, fake_telegram, text=HOSTILE, first_name=f"Eve {HOSTILE}")
    before = len(fake_telegram.sent())
    await tg_bot.post_telegram(message_update(ACME_CHAT, caption=HOSTILE, document=document))
    await fake_telegram.wait_for(lambda f: len(f.sent()) > before)
    await tg_bot.settled()
    async with tg_bot.db.write() as s:
        [filename] = (await s.execute(select(AttachmentRow.filename))).scalars()
        assert filename is not None and HOSTILE in filename  # the sender's name, as the sender wrote it
        client_id = (
            await s.execute(select(Contact.client_id).where(Contact.channel_user_id == str(ACME_CHAT)))
        ).scalar_one()
        await s.execute(update(Client).where(Client.id == client_id).values(name=f"Acme {HOSTILE}"))
        claim = Claim(
            number="CLM-2026-000001",
            description=HOSTILE,
            sku=HOSTILE[:60],
            order_number=BREAKOUT,
            conversation_id=conv_id,
        )
        s.add(claim)
        await s.flush()
        s.add(ClaimEvent(claim_id=claim.id, by="bot", to_state="submitted", note=HOSTILE))
        s.add(Escalation(reason="urgent", policy="urgent", note=HOSTILE, conversation_id=conv_id))
    await login(tg_bot)

    pages = {}
    for path in (
        "/console/conversations",
        f"/console/conversations/{conv_id}",
        "/console/claims",
        "/console/claims/CLM-2026-000001",
        "/console/escalations",
    ):
        resp = await tg_bot.client.get(path)
        assert resp.status == 200, path
        pages[path] = await resp.text()
        assert_inert(pages[path], path)

    listing, conversation = pages["/console/conversations"], pages[f"/console/conversations/{conv_id}"]
    for page in (listing, conversation):
        shown = "".join(parse(page).text)
        assert f"Eve {HOSTILE}" in shown and f"Acme {HOSTILE}" in shown and f"Li {HOSTILE}" in shown
    # the file is a download link whose text is the file name, and the link still fetches the file
    [href] = [
        a["href"]
        for tag, a in parse(conversation).tags
        if tag == "a" and (a.get("href") or "").startswith("/media/")
    ]
    [text] = re.findall(r'<a href="/media/[^"]+">([^<]*)</a>', conversation)
    assert htmllib.unescape(text) == filename
    media = await tg_bot.client.get(str(href))
    assert media.status == 200 and await media.read() == b"just a packing list"
    # the forms keep working with the escaped page: the reply form's hidden fields are intact
    assert csrf_of(conversation) and 'name="nonce" value="' in conversation


async def test_the_chinese_catalog_is_there() -> None:
    """The Chinese tests below run, not skip: the catalog is part of the repository."""
    assert "zh" in available_languages()


async def test_a_chinese_browser_gets_the_login_page_in_chinese(tg_bot: BotHarness) -> None:
    for header in ("zh-CN,zh;q=0.9,en;q=0.8", "fr-FR, zh-Hans;q=0.7"):
        resp = await tg_bot.client.get("/console/login", headers={"Accept-Language": header})
        page = await resp.text()
        assert resp.status == 200 and '<html lang="zh">' in page, header
        assert "员工登录" in page and "登录" in page and "Staff sign-in" not in page, header
    # a wrong password is told in Chinese too, on the same form
    form = await tg_bot.client.get("/console/login", headers={"Accept-Language": "zh"})
    resp = await tg_bot.client.post(
        "/console/login",
        data={"csrf": csrf_of(await form.text()), "username": "nobody", "password": "wrong password"},
        headers={"Accept-Language": "zh"},
    )
    assert resp.status == 401 and "用户名或密码错误" in await resp.text()
    # English first, or a browser asking for nothing we have, gets English
    for header in ("en-GB,zh;q=0.5", "de"):
        page = await (await tg_bot.client.get("/console/login", headers={"Accept-Language": header})).text()
        assert '<html lang="en">' in page and "Staff sign-in" in page, header


async def test_a_staff_member_reading_chinese_gets_the_conversations_page_in_chinese(
    tg_bot: BotHarness, fake_telegram: FakeTelegram
) -> None:
    await add_staff(tg_bot)
    await client_wrote(tg_bot, fake_telegram, text="hello", first_name="王伟 <b>Wang</b>")
    assert (await login(tg_bot)).status == 303
    english = await (await tg_bot.client.get("/console/conversations")).text()
    assert '<html lang="en">' in english and "<h1>Conversations</h1>" in english  # the default: English
    assert "退出" not in english

    async with tg_bot.db.write() as s:  # the staff record says Chinese: the next page is Chinese
        await s.execute(update(Staff).where(Staff.key == "li").values(language="zh"))
    # the staff record decides, not the browser
    resp = await tg_bot.client.get("/console/conversations", headers={"Accept-Language": "en-GB,en"})
    page = await resp.text()
    assert resp.status == 200 and '<html lang="zh">' in page
    assert "<title>会话 · aftersales</title>" in page and "<h1>会话</h1>" in page
    nav = re.findall(r'<a href="(/console/\w+)" class="[^"]*">([^<]*)</a>', page)
    assert nav == [
        ("/console/conversations", "会话"),
        ("/console/claims", "索赔"),
        ("/console/escalations", "升级"),
        ("/console/reports", "报表"),
    ]
    assert 'title="退出"' in page
    assert "王伟 &lt;b&gt;Wang&lt;/b&gt;" in page  # the client's name as they wrote it, escaped
    for english_text in ("Conversations", "Chats", "Alerts", "Log out", "Reports"):
        assert english_text not in page, english_text


async def test_a_language_without_a_catalog_gets_the_english_login_page(tg_bot: BotHarness) -> None:
    for header in ("tlh", "tlh;q=1, *;q=0.5", "q=garbage;;,", ""):
        resp = await tg_bot.client.get("/console/login", headers={"Accept-Language": header})
        page = await resp.text()
        assert resp.status == 200 and '<html lang="en">' in page and "Staff sign-in" in page, header
        assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'")
