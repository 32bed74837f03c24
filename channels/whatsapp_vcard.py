"""A contact shared on WhatsApp arrives as a vCard file: its names and numbers, read out as text.

Twilio hands a shared contact over as media (`text/vcard`); stored as a file it would be an
unread document nobody opens. Once the engine has fetched it, this reader turns it into the
line staff read (`👤 Wang Lei: +86 138 0000 0001`) and structured `extra["contacts"]`. The
file is small and the parse is line-based and bounded: no vCard library, nothing executed,
nothing fetched from inside the card (PHOTO/URL values are ignored).
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot.messages import Channel, InboundMessage

log = logging.getLogger(__name__)

MAX_VCARD_BYTES = 64 * 1024
MAX_CONTACTS = 10
MAX_VALUES = 5
VCARD_TYPES = frozenset({"text/vcard", "text/x-vcard", "text/directory"})
PLACEHOLDER = "👤 contact card (vCard)"


def _unfolded(text: str) -> list[str]:
    """RFC 6350 line folding: a line starting with a space or tab continues the one before."""
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw.strip():
            lines.append(raw)
    return lines


def _unescape(value: str) -> str:
    return value.replace("\\n", " ").replace("\\N", " ").replace("\\,", ",").replace("\\;", ";").strip()


def parse_vcards(data: bytes) -> list[dict[str, object]]:
    """Every card's name (FN, else N), phone numbers (TEL), e-mail addresses and organisation."""
    text = data[:MAX_VCARD_BYTES].decode("utf-8", errors="replace")
    cards: list[dict[str, object]] = []
    card: dict[str, object] | None = None
    for line in _unfolded(text):
        name, _, value = line.partition(":")
        prop = name.split(";")[0].split(".")[-1].upper()  # "item1.TEL;type=CELL" → TEL
        if prop == "BEGIN" and value.strip().upper() == "VCARD":
            card = {"name": "", "phones": [], "emails": []}
        elif prop == "END" and card is not None:
            if card["name"] or card["phones"] or card["emails"]:
                cards.append(card)
            card = None
        elif card is not None:
            _take(card, prop, _unescape(value))
        if len(cards) >= MAX_CONTACTS:
            break
    return cards


def _take(card: dict[str, object], prop: str, value: str) -> None:
    if not value:
        return
    if prop == "FN":
        card["name"] = value
    elif prop == "N" and not card["name"]:
        parts = [p for p in (s.strip() for s in value.split(";")) if p]
        card["name"] = " ".join(reversed(parts[:2])) if len(parts) >= 2 else " ".join(parts)
    elif prop == "ORG":
        card["org"] = value.replace(";", ", ").strip(", ")
    elif prop in ("TEL", "EMAIL"):
        values = card["phones" if prop == "TEL" else "emails"]
        assert isinstance(values, list)
        if len(values) < MAX_VALUES and value not in values:
            values.append(value.removeprefix("tel:"))


def contact_line(card: dict[str, object]) -> str:
    """`👤 Wang Lei (Hailang Bags): +86 138 0000 0001, lei@hailang.example`."""
    phones = card.get("phones") or []
    emails = card.get("emails") or []
    assert isinstance(phones, list) and isinstance(emails, list)
    who = str(card.get("name") or "")
    if card.get("org"):
        who = f"{who} ({card['org']})" if who else str(card["org"])
    reach = ", ".join(str(v) for v in [*phones, *emails])
    return "👤 " + (f"{who}: {reach}" if who and reach else who or reach)


async def read_contacts(inbound: InboundMessage) -> None:
    """After the fetch: each vCard attachment's placeholder line becomes its contacts' lines."""
    if inbound.channel != Channel.WHATSAPP:
        return
    contacts: list[dict[str, object]] = []
    for att in inbound.attachments:
        if att.mime.lower() in VCARD_TYPES and att.stored_path and not att.error:
            try:
                with Path(att.stored_path).open("rb") as fh:
                    contacts += parse_vcards(fh.read(MAX_VCARD_BYTES))
            except OSError as exc:
                log.warning("vcard %s unreadable: %s", att.stored_path, exc)
    if not contacts:
        return
    lines = "\n".join(contact_line(c) for c in contacts)
    if PLACEHOLDER in inbound.text:
        head, _, tail = inbound.text.partition(PLACEHOLDER)
        inbound.text = (head + lines + tail.replace(PLACEHOLDER + "\n", "").replace(PLACEHOLDER, "")).strip()
    else:
        inbound.text = "\n".join(p for p in (lines, inbound.text) if p)
    inbound.extra["contacts"] = contacts
