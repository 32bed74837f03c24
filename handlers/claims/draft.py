"""What the claim dialog remembers between two messages, typed, and how it is kept as JSON.

The draft lives in the conversation's `dialog_state` (a JSON column) and is rewritten on
every message; caps.py bounds what it keeps. Reading is forgiving on purpose: a draft
written by an older release (a deploy while a client is half-way through a report) may
miss keys, carry keys this release no longer knows, or hold a value of another type.
Each such value falls back to its default rather than failing the client's next message.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from handlers.claims.steps import Step, check


@dataclass
class ClaimDraft:
    step: Step | None = None  # the question last asked, or where an open claim's dialog waits
    asked: dict[str, int] = field(default_factory=dict)  # step → times asked (steps.MAX_ASKS)
    asked_step: Step | None = None  # the question the client saw last, and when (quiet albums)
    asked_at: float = 0.0  # POSIX seconds
    options: list[str] = field(default_factory=list)  # the buttons' values, for a typed "1", "2" …
    evidence: list[int] = field(default_factory=list)  # attachment ids (caps.MAX_FILES)
    texts: list[str] = field(default_factory=list)  # the first messages, for the policy check
    told: list[str] = field(default_factory=list)  # caps notices already given ("files", …)
    order_id: int | None = None
    order_number: str | None = None  # as the client typed it when no order of theirs matched
    order_unknown: bool = False
    sku: str | None = None
    line_id: int | None = None
    multi_line: bool = False  # the order has several lines: ask which item
    qty: int | None = None
    unused: bool | None = None
    description: str = ""
    media_group: str | None = None  # the album the last message belonged to
    claim: str | None = None  # once open: the claim's number (ATTACH, INFO)
    full_told: bool = False  # once open: the client heard the claim has caps.MAX_FILES

    def go(self, step: Step) -> None:
        """Move to `step`, which the dialog's map (steps.NEXT) must allow from here."""
        self.step = check(self.step, step)

    def opened(self, step: Step, claim: str, **values: Any) -> ClaimDraft:
        """The state once a claim is open: the claim and what adding to it needs; the report is done."""
        return ClaimDraft(step=check(self.step, step), claim=claim, **values)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values only (steps as their strings), every key present: an older release
        reading it back (a rollback) finds each key it knows."""
        out = asdict(self)
        out["step"] = _plain(self.step)
        out["asked_step"] = _plain(self.asked_step)
        return out

    @classmethod
    def from_json(cls, raw: object) -> ClaimDraft:
        """A draft from a stored dialog state; what is missing or not understood takes its default."""
        d = raw if isinstance(raw, dict) else {}
        return cls(
            step=_step(d.get("step")),
            asked={k: v for k, v in _dict(d.get("asked")).items() if isinstance(k, str) and _is_int(v)},
            asked_step=_step(d.get("asked_step")),
            asked_at=_seconds(d.get("asked_at")),
            options=_strings(d.get("options")),
            evidence=[v for v in _list(d.get("evidence")) if _is_int(v)],
            texts=_strings(d.get("texts")),
            told=_strings(d.get("told")),
            order_id=_int_or_none(d.get("order_id")),
            order_number=_str_or_none(d.get("order_number")),
            order_unknown=d.get("order_unknown") is True,
            sku=_str_or_none(d.get("sku")),
            line_id=_int_or_none(d.get("line_id")),
            multi_line=d.get("multi_line") is True,
            qty=_int_or_none(d.get("qty")),
            unused=v if isinstance(v := d.get("unused"), bool) else None,
            description=v if isinstance(v := d.get("description"), str) else "",
            media_group=_str_or_none(d.get("media_group")),
            claim=_str_or_none(d.get("claim")),
            full_told=d.get("full_told") is True,
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _seconds(value: object) -> float:
    return float(value) if isinstance(value, int | float) and _is_number(value) else 0.0


def _plain(step: Step | None) -> str | None:
    return None if step is None else step.value


def _step(value: object) -> Step | None:
    if not isinstance(value, str):
        return None
    try:
        return Step(value)
    except ValueError:  # a step an older or newer release had: start that part afresh
        return None


def _dict(value: object) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _strings(value: object) -> list[str]:
    return [v for v in _list(value) if isinstance(v, str)]


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
