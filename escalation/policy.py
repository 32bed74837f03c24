"""The climb of one policy as pure arithmetic: which step comes next and when it is due.

A step is (level, round), both 1-based, or FINAL (everyone in the policy, once). Due
times are offsets from `opened_at`, never from "the last page", so the schedule does
not drift and a process that starts late computes the same instants as one that
never stopped. Round r starts at opened_at + (r-1) × round length, where a round lasts
until the last level's `after_seconds` plus the acknowledgement timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from escalation.rota import Policy

FINAL = "final"
Step = tuple[int, int] | str


@dataclass(frozen=True)
class Schedule:
    policy: Policy
    ack_timeout_seconds: float = 300.0
    max_rounds: int = 0  # 0: the policy's own rounds; otherwise a cap from settings

    @property
    def rounds(self) -> int:
        if self.max_rounds:
            return max(1, min(self.policy.rounds, self.max_rounds))
        return self.policy.rounds

    @property
    def round_length(self) -> timedelta:
        timeout = self.policy.ack_timeout_seconds
        if timeout is None:
            timeout = self.ack_timeout_seconds
        return timedelta(seconds=self.policy.levels[-1].after_seconds + timeout)

    def next_step(self, level: int, round_: int, final_sent: bool) -> Step | None:
        """The step after (level, round) — (0, 0) means nothing paged yet — or None when all is done."""
        if final_sent:
            return None
        if round_ == 0:
            return (1, 1)
        if level < len(self.policy.levels):
            return (level + 1, round_)
        if round_ < self.rounds:
            return (1, round_ + 1)
        return FINAL

    def due_at(self, opened_at: datetime, step: Step) -> datetime:
        if step == FINAL:
            return opened_at + self.round_length * self.rounds
        assert not isinstance(step, str)
        level, round_ = step
        after = timedelta(seconds=self.policy.levels[level - 1].after_seconds)
        return opened_at + self.round_length * (round_ - 1) + after
