"""Small formatting helpers of the console pages: ids from paths, previews, file names, times."""

from __future__ import annotations

from datetime import datetime

from storage.models import Message


def when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if at else ""


def path_int(raw: str) -> int:
    return int(raw) if raw.isdigit() and len(raw) < 19 else 0


def preview(m: Message | None) -> str:
    if m is None:
        return ""
    arrow = "↩ " if m.direction == "out" else ""
    text = m.text or (f"[{m.attachments[0].kind}]" if "attachments" in m.__dict__ and m.attachments else "")
    return (arrow + text)[:100]


def default_name(stem: str, mime: str) -> str:
    """A readable download name (/media decides the Content-Type from the stored bytes)."""
    ext = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "video/mp4": "mp4"}.get(mime)
    return f"{stem}.{ext}" if ext else stem
