"""What a channel cannot show, degraded the same way on every channel that lacks it.

The domain always attaches buttons and edits; each sender calls `degrade` with its own
`Capabilities` before talking to its provider:
- an edit where messages cannot be edited becomes its fallback, sent as a new message,
  or nothing at all when the edit has no fallback (the news was only worth a rewrite);
- buttons where there are none are dropped when the text already says how to answer
  (`buttons_optional`), else the sender lists them as numbered lines (`numbered`) and
  the handlers take the digit as the answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from bot.messages import OutboundMessage
from bot.ports import Capabilities


def degrade(out: OutboundMessage, caps: Capabilities) -> OutboundMessage | None:
    """`out` as this channel can show it; None when nothing of it is left to send."""
    if out.edit is not None and not caps.edits:
        if out.edit.fallback is None:
            return None
        out = replace(out, text=out.edit.fallback, edit=None)
    if out.buttons and not caps.buttons and out.buttons_optional:
        out = replace(out, buttons=[])
    return out


def numbered(text: str, labels: Iterable[str]) -> str:
    """Buttons as numbered lines under the text, unless the text already has those lines."""
    lines = [f"{i}. {label}" for i, label in enumerate(labels, 1)]
    missing = [line for line in lines if line not in text]
    if not missing:
        return text
    return "\n".join([text, *lines]) if text else "\n".join(lines)
