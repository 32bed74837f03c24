"""Reply statistics: a message never answered is infinitely late, not left out."""

from __future__ import annotations

from bench import replies


def test_unanswered_messages_push_the_p99_up_and_the_rate_is_not_held() -> None:
    due = {str(i): float(i) for i in range(100)}
    first = {str(i): i + 0.1 for i in range(98)}  # chats 98 and 99 never answered
    stats = replies.reply_stats(due, first, started=0.0)
    assert stats["replied"] == 98 and stats["p99_s"] is None
    assert not replies.held(stats)


def test_a_rate_is_held_when_everything_is_answered_within_a_second() -> None:
    due = {str(i): i / 10 for i in range(50)}
    first = {c: t + 0.2 for c, t in due.items()}
    stats = replies.reply_stats(due, first, started=0.0)
    assert stats["replied"] == 50 and stats["p99_s"] == 0.2 and stats["p50_s"] == 0.2
    assert replies.held(stats)
    late = replies.reply_stats(due, {c: t + 1.5 for c, t in due.items()}, started=0.0)
    assert not replies.held(late)


def test_replies_are_counted_per_second() -> None:
    arrivals = [("a", 10.2, ""), ("b", 10.9, ""), ("c", 11.5, ""), ("d", 13.0, "")]
    assert replies.per_second(arrivals, 10.0, 13.0) == [2, 1, 0]
