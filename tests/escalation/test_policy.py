"""The climb as arithmetic: step order, due times from opened_at, rounds capped by settings, final step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from escalation.policy import FINAL, Schedule
from escalation.rota import Level, Policy

POLICY = Policy("urgent", (Level(("rotation:primary",), 0), Level(("rotation:secondary",), 120)), rounds=2)
OPENED = datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


def test_steps_walk_levels_then_rounds_then_final_once() -> None:
    s = Schedule(POLICY, ack_timeout_seconds=60)
    steps = []
    level, round_, final = 0, 0, False
    while (step := s.next_step(level, round_, final)) is not None:
        steps.append((step, s.due_at(OPENED, step) - OPENED))
        if step == FINAL:
            final = True
        else:
            level, round_ = step  # type: ignore[misc]
    assert steps == [
        ((1, 1), timedelta(0)),
        ((2, 1), timedelta(seconds=120)),
        ((1, 2), timedelta(seconds=180)),  # a round lasts the last level's delay plus the ack timeout
        ((2, 2), timedelta(seconds=300)),
        (FINAL, timedelta(seconds=360)),
    ]


def test_settings_cap_rounds_and_policy_timeout_wins() -> None:
    assert Schedule(POLICY, max_rounds=1).rounds == 1
    assert Schedule(POLICY, max_rounds=5).rounds == 2
    own = Policy("p", POLICY.levels, rounds=1, ack_timeout_seconds=30)
    assert Schedule(own, ack_timeout_seconds=999).round_length == timedelta(seconds=150)
