"""The benchmark's load generator posts what it says, on schedule, and notes when each message was due."""

from __future__ import annotations

from bench import loadgen, servers


async def test_open_loop_posts_every_update_to_a_bare_server() -> None:
    port = servers.free_port()
    async with servers.process(servers.bare_server(port), port):
        sent = await loadgen.open_loop(f"http://127.0.0.1:{port}/webhooks/telegram", "s3cret", 100, 0.2)
    assert sent.errors == 0
    assert len(sent.due) == 20 and len(sent.webhook_ms) == 20
    dues = sorted(sent.due.values())
    assert dues[-1] - dues[0] < 0.5  # posted on schedule, not one after another's answer


async def test_open_loop_counts_refused_posts_as_errors() -> None:
    port = servers.free_port()
    async with servers.process(servers.fake_api(port), port):  # no webhook route there: 404 or 405
        sent = await loadgen.open_loop(f"http://127.0.0.1:{port}/webhooks/telegram", "s3cret", 50, 0.1)
    assert sent.errors == len(sent.due) == 5


def test_every_message_comes_from_a_new_chat() -> None:
    assert len(set(loadgen.new_chats(100))) == 100
