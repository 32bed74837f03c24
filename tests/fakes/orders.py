"""Helpers for the order tests: reading outbox rows, PDFs, and making claim/staff rows."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader
from sqlalchemy import select

from storage.models import Claim, OutboxRow
from storage.repos import clients
from storage.repos import staff as staff_repo

ORDER_0117_DATA = ("PO-2026-0117", "0117", "In production", "生产中", "2026-12-20", "BP-220", "PI-2026-0117")


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


async def outbox_rows(h: Any, **where: Any) -> list[OutboxRow]:
    async with h.db.read() as s:
        query = select(OutboxRow).order_by(OutboxRow.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxRow, name) == value)
        return list((await s.execute(query)).scalars())


async def add_staff(h: Any, key: str, chat_id: int, roles: list[str]) -> None:
    async with h.db.write() as s:
        await staff_repo.upsert(s, key, name=key.title(), telegram_chat_id=chat_id, roles=roles)


async def add_closed_claim(
    h: Any,
    *,
    number: str,
    client: str,
    sku: str,
    order_number: str | None,
    category: str = "zipper",
    resolution: str = "replacement",
) -> int:
    """A claim row as the claims side would leave it once closed (we only read claims)."""
    from bot.ids import order_key
    from storage.repos import orders

    async with h.db.write() as s:
        c = await clients.get_client(s, client)
        assert c is not None
        order = await orders.by_key(s, order_key(order_number)) if order_number else None
        claim = Claim(
            number=number,
            state="closed",
            client_id=c.id,
            order_id=order.id if order else None,
            order_number=order_number,
            sku=sku,
            category=category,
            resolution=resolution,
            description=f"{category} failed after a week",
            unused=True,
        )
        s.add(claim)
        await s.flush()
        return claim.id
