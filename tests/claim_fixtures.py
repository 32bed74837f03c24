"""Test data for claims: orders (seeded with the models: the orders repository is not ours),
QC staff, real JPEG photos made with Pillow, and small read helpers."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest_asyncio
from PIL import Image, ImageDraw, ImageEnhance
from sqlalchemy import delete, select

from bot.ids import order_key
from storage.models import AuditLog, Claim, Client, Order, OrderLine
from storage.repos import claims as claims_repo
from storage.repos import staff as staff_repo
from tests.conftest import make_settings, telegram_settings
from tests.fakes.telegram import FakeTelegram, callback_update, message_update

QC_CHAT = 7001  # staff "li", QC
SALES_CHAT = 7002  # staff "anna", sales only: gets no claim pages
ACME_CHAT = 5550001  # demo client "acme", English
HAILANG_CHAT = 5550002  # demo client "hailang", Chinese
STRANGER_CHAT = 5559999  # no client: an unverified contact

ORDERS: list[dict[str, Any]] = [
    {
        "client": "acme",
        "number": "PO-2026-0117",
        "spare_ratio": 0.03,
        "lines": [("BP-220", "Laptop backpack 15.6in", 2000)],
    },
    {
        "client": "acme",
        "number": "PO-2026-0123",
        "spare_ratio": 0.0,
        "lines": [("TT-100", "Canvas tote", 500), ("BP-300", "Travel backpack", 1000)],
    },
    {
        "client": "hailang",
        "number": "PO-2026-0200",
        "spare_ratio": 0.05,
        "lines": [("DF-50", "Duffel bag 50L", 1000)],
    },
]


async def seed_orders(db: Any) -> None:
    """The claims tests' own orders, in place of the demo's (the demo seed adds some too)."""
    async with db.write() as s:
        await s.execute(delete(Order))
        for data in ORDERS:
            client = (await s.execute(select(Client).where(Client.key == data["client"]))).scalar_one()
            order = Order(
                number=data["number"],
                number_key=order_key(data["number"]),
                client_id=client.id,
                status="delivered",
                spare_ratio=data["spare_ratio"],
            )
            order.lines = [
                OrderLine(sku=sku, description=desc, quantity=qty) for sku, desc, qty in data["lines"]
            ]
            s.add(order)


async def seed_staff(db: Any) -> None:
    async with db.write() as s:
        await staff_repo.upsert(s, "li", name="Li Wei", telegram_chat_id=QC_CHAT, roles=["qc", "sales"])
        await staff_repo.upsert(s, "anna", name="Anna", telegram_chat_id=SALES_CHAT, roles=["sales"])


def photo(seed: int, *, size: tuple[int, int] = (1200, 900)) -> Image.Image:
    """A busy, deterministic picture: rectangles and ellipses of random colours on a gradient.

    Big and sharp enough for the claim photo checks (long edge 1000 px): only the tests of
    those checks send photos that fail them.
    """
    rng = random.Random(seed)
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    w, h = size
    for x in range(0, w, 4):
        shade = int(255 * x / w)
        draw.rectangle([x, 0, x + 3, h], fill=(shade, rng.randint(0, 255) // 4, 255 - shade))
    for _ in range(25):
        x0, y0 = rng.randint(0, w - 40), rng.randint(0, h - 40)
        x1, y1 = x0 + rng.randint(20, w // 2), y0 + rng.randint(20, h // 2)
        colour = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)([x0, y0, x1, y1], fill=colour)
    return img


def jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def altered(img: Image.Image) -> Image.Image:
    """The same photo, slightly changed: brighter, a small watermark, resized a little."""
    out = ImageEnhance.Brightness(img).enhance(1.12)
    ImageDraw.Draw(out).rectangle([10, 10, 40, 24], fill=(255, 255, 255))
    return out.resize((img.width - 24, img.height - 18))


async def all_claims(db: Any) -> list[Claim]:
    async with db.read() as s:
        ids = list((await s.execute(select(Claim.id).order_by(Claim.id))).scalars())
        return [c for c in [await claims_repo.get(s, i) for i in ids] if c is not None]


async def one_claim(db: Any) -> Claim:
    claims = await all_claims(db)
    assert len(claims) == 1, [c.number for c in claims]
    return claims[0]


async def audit_actions(db: Any, target: str) -> list[str]:
    async with db.read() as s:
        return list(
            (
                await s.execute(
                    select(AuditLog.action).where(AuditLog.target == target).order_by(AuditLog.id)
                )
            ).scalars()
        )


async def order_line(db: Any, sku: str) -> OrderLine:
    async with db.read() as s:
        return (await s.execute(select(OrderLine).where(OrderLine.sku == sku))).scalar_one()


@pytest_asyncio.fixture
async def claims_bot(tg_bot: Any) -> Any:
    """The Telegram bot with demo clients, their orders and the QC staff."""
    await seed_orders(tg_bot.db)
    await seed_staff(tg_bot.db)
    return tg_bot


@pytest_asyncio.fixture
async def claims_bot_any_db(
    harness_factory: Any, tmp_path: Path, any_db_url: str, fake_telegram: FakeTelegram
) -> Any:
    """The same as `claims_bot`, on SQLite and (when configured) on PostgreSQL."""
    from bot.tools.demo import seed

    settings = make_settings(tmp_path, any_db_url, telegram=telegram_settings(fake_telegram))
    bot = await harness_factory(settings)
    await seed(bot.db)
    await seed_orders(bot.db)
    await seed_staff(bot.db)
    return bot


async def send_photo(
    bot: Any, fake: Any, chat: int, data: bytes, *, caption: str | None = None, file_id: str, **kw: Any
) -> Any:
    fake.add_file(file_id, data)
    resp = await bot.post_telegram(
        message_update(chat, caption=caption, photo_file_id=file_id, photo_size=len(data), **kw)
    )
    assert resp.status == 200
    return resp


async def say(bot: Any, chat: int, text: str) -> None:
    resp = await bot.post_telegram(message_update(chat, text=text))
    assert resp.status == 200


async def press(bot: Any, chat: int, value: str) -> None:
    resp = await bot.post_telegram(callback_update(chat, value))
    assert resp.status == 200
