"""How a stored file appears on a console page: inline only when a browser cannot run it.

`/media` is served from the console's own origin, so only the passive types in INLINE_TYPES
become an <img> or a <video>; everything else (SVG, HTML, …) is a download link, which is also
better than a broken picture. Links are relative: the browser fetches them from the origin
the console was opened on, whatever `public_url` says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.core.media import MediaLinks
from bot.core.media_types import INLINE_TYPES
from bot.web.console.formats import default_name
from storage.models import AttachmentRow, ClaimEvidence

How = Literal["img", "video", "link", "missing"]


@dataclass(frozen=True)
class Shown:
    how: How
    url: str = ""
    label: str = ""  # alt text of a picture, the text of a link, the kind of a missing file
    why: str = ""  # why a file is missing: its fetch error, or "" while it is pending
    thumb: str = ""  # a video's frame (a JPEG in the media store), shown in its place


def how_to_show(mime: str) -> How:
    if mime in INLINE_TYPES and mime.startswith("image/"):
        return "img"
    if mime in INLINE_TYPES and mime.startswith("video/"):
        return "video"
    return "link"


def media_url(links: MediaLinks, sha256: str, filename: str | None) -> str:
    return "/media/" + links.token(sha256, filename=filename)


def attachment(links: MediaLinks, a: AttachmentRow) -> Shown:
    if not (a.sha256 and a.stored_path):
        return Shown("missing", label=a.kind, why=a.error or "")
    url = media_url(links, a.sha256, a.filename or default_name(a.kind, a.mime))
    how = how_to_show(a.mime)
    return Shown(how, url, a.kind if how != "link" else a.filename or a.kind)


def evidence(links: MediaLinks, e: ClaimEvidence) -> Shown:
    """A photo inline; a video as its thumbnail (the frame its check kept) linking to the file."""
    url = media_url(links, e.sha256, default_name("evidence", e.mime))
    frame = (e.quality or {}).get("thumbnail")
    thumb = media_url(links, frame, "thumbnail.jpg") if isinstance(frame, str) and frame else ""
    return Shown("img" if how_to_show(e.mime) == "img" else "link", url, e.mime, thumb=thumb)
