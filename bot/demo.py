"""Demo data so a newcomer can try every flow; seeding twice changes nothing."""

from __future__ import annotations

from storage.db import Database
from storage.repos.clients import ContactRef, upsert_client

DEMO_CLIENTS = [
    {
        "key": "acme",
        "name": "Acme Bags GmbH",
        "language": "en",
        "email_domains": ["acme.example"],
        "contacts": [
            ContactRef("telegram", "5550001"),
            ContactRef("whatsapp", "whatsapp:+491701234567"),
            ContactRef("wechat", "oAbC123openid"),
            ContactRef("email", "buyer@acme.example"),
        ],
    },
    {
        "key": "hailang",
        "name": "海浪箱包贸易有限公司",
        "language": "zh",
        "email_domains": ["hailang.example"],
        "contacts": [
            ContactRef("telegram", "5550002"),
            ContactRef("whatsapp", "whatsapp:+8613900000002"),
            ContactRef("wechat", "oZh456openid"),
            ContactRef("email", "caigou@hailang.example"),
        ],
    },
]


async def seed(db: Database, *, sandbox: bool = False) -> list[str]:
    async with db.write() as session:
        if sandbox:  # a console login to try: staff "li", password "demo"
            from bot.console.passwords import seed_demo_staff

            await seed_demo_staff(session)
        for data in DEMO_CLIENTS:
            await upsert_client(
                session,
                data["key"],  # type: ignore[arg-type]
                name=data["name"],  # type: ignore[arg-type]
                language=data["language"],  # type: ignore[arg-type]
                email_domains=data["email_domains"],  # type: ignore[arg-type]
                contacts=data["contacts"],  # type: ignore[arg-type]
            )
    return [str(c["key"]) for c in DEMO_CLIENTS]
