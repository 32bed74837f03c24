"""Scoring of the real-input corpus: every input is judged on what the product stored.

An input is *sensible* when what the repositories hold after posting it through the real
route is what a person reading the raw payload would expect (its text, its files, its
sender, one row per delivery, nothing for what is not a client message). Known exceptions
are listed with a reason in the channel's index and counted as failures all the same, so
the ratio printed is the honest one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GOAL = 0.98


@dataclass
class Verdict:
    name: str  # the input's file name under tests/corpus/<channel>/
    sensible: bool
    why: str = ""  # what was wrong, for a failure


@dataclass
class CorpusResult:
    channel: str
    verdicts: list[Verdict] = field(default_factory=list)
    known: dict[str, str] = field(default_factory=dict)  # file name -> reason it is an accepted miss

    def add(self, name: str, problems: list[str]) -> None:
        self.verdicts.append(Verdict(name, not problems, "; ".join(problems)))

    @property
    def total(self) -> int:
        return len(self.verdicts)

    @property
    def sensible(self) -> int:
        return sum(1 for v in self.verdicts if v.sensible)

    @property
    def ratio(self) -> float:
        return self.sensible / self.total if self.total else 0.0

    def line(self) -> str:
        return f"{self.channel}: {self.total} inputs, sensible {self.sensible} ({self.ratio:.1%})"

    def report(self) -> str:
        misses = [v for v in self.verdicts if not v.sensible]
        lines = [self.line()]
        for v in misses:
            reason = self.known.get(v.name)
            lines.append(f"  {v.name}: {v.why}" + (f" [known: {reason}]" if reason else ""))
        return "\n".join(lines)

    def check(self) -> None:
        """Print the per-channel line and fail below the goal or on an unlisted miss."""
        print(self.report())
        assert self.total > 0, f"{self.channel}: no inputs"
        unlisted = [v.name for v in self.verdicts if not v.sensible and v.name not in self.known]
        assert not unlisted, f"{self.channel}: misses not listed as known exceptions: {unlisted}"
        assert self.ratio >= GOAL, self.report()
