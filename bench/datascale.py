"""Scale of data: the same questions against a database holding 10 k, then 1 M messages and orders.

Rows are bulk-inserted straight into the SQLite file after `db upgrade` (the ORM would
take minutes for a million), shaped as the bot writes them: 1,000 clients, each with one
linked Telegram contact and its share of the orders; conversations of 100 handled
messages each. Then, against `aftersales serve`: a linked client asking for one of its
orders (reply p99 at the fake Bot API), `GET /api/conversations` (p99, closed loop) and
the server's RSS.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from bench import loadgen, replies, servers

CLIENTS = 1000
LINKED_BASE = 30_000_000  # chat id of client k's linked contact: LINKED_BASE + k
PER_CONVERSATION = 100
AT = "2026-11-01 00:00:00.000000"


def seed(path: Path, count: int) -> float:
    """`count` messages and `count` orders; returns the seconds it took."""
    started = time.monotonic()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    with db:
        db.executemany(
            "INSERT INTO clients (id, key, name, language, email_domains, created_at, updated_at)"
            " VALUES (?, ?, ?, 'en', '[]', ?, ?)",
            ((k, f"bench{k}", f"Bench client {k}", AT, AT) for k in range(1, CLIENTS + 1)),
        )
        conversations = max(1, count // PER_CONVERSATION)
        db.executemany(
            "INSERT INTO contacts (id, channel, channel_user_id, client_id, name, created_at)"
            " VALUES (?, 'telegram', ?, ?, ?, ?)",
            _contacts(conversations),
        )
        db.executemany(
            "INSERT INTO conversations (id, contact_id, channel, state, priority, language, dialog_state,"
            " last_message_at, created_at) VALUES (?, ?, 'telegram', 'bot', 'normal', 'en', '{}', ?, ?)",
            ((j, CLIENTS + j, _at(j), AT) for j in range(1, conversations + 1)),
        )
        db.executemany(
            "INSERT INTO messages (id, channel, direction, channel_user_id, provider_message_id,"
            " conversation_id, text, payload, handled_at, created_at)"
            " VALUES (?, 'telegram', ?, ?, ?, ?, ?, '{}', ?, ?)",
            _messages(count),
        )
        db.executemany(
            "INSERT INTO orders (id, number, number_key, client_id, status, spare_ratio, created_at,"
            " updated_at)"
            " VALUES (?, ?, ?, ?, 'in_production', 0.0, ?, ?)",
            ((i + 1, f"PO-{i:07d}", f"PO{i:07d}", 1 + i % CLIENTS, AT, AT) for i in range(count)),
        )
    db.close()
    return round(time.monotonic() - started, 1)


def _at(j: int) -> str:
    return f"2026-11-{1 + j % 28:02d} {j % 24:02d}:{j % 60:02d}:{(j // 60) % 60:02d}.000000"


def _contacts(conversations: int) -> Iterator[tuple[Any, ...]]:
    for k in range(1, CLIENTS + 1):
        yield (k, str(LINKED_BASE + k), k, f"Linked {k}", AT)
    for j in range(1, conversations + 1):
        yield (CLIENTS + j, str(40_000_000 + j), None, f"Seeded {j}", AT)


def _messages(count: int) -> Iterator[tuple[Any, ...]]:
    for i in range(1, count + 1):
        conv = 1 + (i - 1) // PER_CONVERSATION
        direction = "in" if i % 2 else "out"
        yield (
            i,
            direction,
            str(40_000_000 + conv),
            f"seed-{i}" if direction == "in" else None,
            conv,
            f"seeded message {i}",
            AT,
            AT,
        )


def order_questions(count: int, n: int, rng: random.Random) -> tuple[list[int], list[str]]:
    """`n` linked chats (all different), each asking for one of its own client's orders."""
    chats, texts = [], []
    for k in rng.sample(range(1, CLIENTS + 1), min(n, CLIENTS)):
        i = (k - 1) + CLIENTS * rng.randrange(max(1, count // CLIENTS))
        chats.append(LINKED_BASE + k)
        texts.append(f"where is my order PO-{i:07d}?")
    return chats, texts


async def api_p99(port: int, token: str, requests: int) -> dict[str, Any]:
    """Closed loop, one connection: GET /api/conversations (first page), p50/p99 ms."""
    url = f"http://127.0.0.1:{port}/api/conversations"
    headers = {"Authorization": f"Bearer {token}"}
    times: list[float] = []
    async with aiohttp.ClientSession() as http:
        for _ in range(requests):
            t = time.monotonic()
            async with http.get(url, headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"/api/conversations answered {resp.status}")
            times.append((time.monotonic() - t) * 1000)
    return {"p50_ms": round(replies.pct(times, 0.5), 2), "p99_ms": round(replies.pct(times, 0.99), 2)}


async def measure(tmp: Path, count: int, *, questions: int, rate: float, api_requests: int) -> dict[str, Any]:
    api = servers.free_port()
    bot = servers.BotConfig(tmp, f"sqlite+aiosqlite:///{tmp}/scale-{count}.db", api)
    bot.write()
    bot.upgrade()
    seeded = seed(tmp / f"scale-{count}.db", count)
    rng = random.Random(count)
    async with servers.process(servers.fake_api(api), api), bot.serve() as proc:
        log = replies.ReplyLog(f"http://127.0.0.1:{api}")
        chats, texts = order_questions(count, questions, rng)
        sent = await _ask(bot, chats, texts, rate)
        await log.wait_for(sent.due, timeout=30)
        answered = sum(1 for c in sent.due if any(a[0] == c and "PO-" in a[2] for a in log.arrivals))
        stats = replies.reply_stats(sent.due, log.first, sent.started)
        listing = await api_p99(bot.port, bot.admin_token, api_requests)
        rss = servers.rss_mb(proc.pid)
    return {
        "rows": count,
        "seed_s": seeded,
        "order_status": stats,
        "order_answers_naming_the_order": answered,
        "api_conversations": listing,
        "rss_mb": rss,
    }


async def _ask(bot: servers.BotConfig, chats: list[int], texts: list[str], rate: float) -> loadgen.Sent:
    """One open loop per text would reorder them; the texts are all distinct, so post them one by one."""
    url = f"http://127.0.0.1:{bot.port}/webhooks/telegram"
    return await loadgen.open_loop(
        url,
        bot.secret,
        rate,
        len(chats) / rate,
        chats=chats,
        bodies_for=lambda i, chat: loadgen.update(chat, texts[i]),
    )
