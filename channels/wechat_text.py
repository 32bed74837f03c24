"""WeChat text out: buttons as numbered lines, and messages cut to the 客服 byte limit.

The 客服 API has no buttons and takes about 2048 bytes of text per message.
"""

from __future__ import annotations

TEXT_LIMIT_BYTES = 2000  # the 客服 text limit is about 2048 bytes; keep a margin


def render_text(text: str, buttons: list[str], links: list[str]) -> str:
    """Buttons become numbered lines, unless the text already lists them (as the menu does)."""
    parts = [text] if text else []
    if buttons and not all(label in text for label in buttons):
        parts.append("\n".join(f"{i}. {label}" for i, label in enumerate(buttons, 1)))
    if links:
        parts.append("\n".join(links))
    return "\n\n".join(parts)


def split_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> list[str]:
    """Cut at line ends (or characters, for one long line) so every piece is under `limit` bytes."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line.encode()) > limit:
            cut = len(line)
            while len(line[:cut].encode()) > limit:
                cut = cut * 3 // 4
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:cut])
            line = line[cut:]
        if len((current + line).encode()) > limit:
            chunks.append(current)
            current = ""
        current += line
    if current.strip():
        chunks.append(current)
    return [c.rstrip("\n") for c in chunks if c.strip()]
