"""WeChat media rules kept apart from the adapter: which pictures we fetch by URL, which we upload.

Inbound, an image normally comes with a `MediaId` and is fetched through `media/get`. Some
pushes carry only a `PicUrl`: answering those with 400 makes WeChat show the client
"service unavailable", so the picture is fetched from the URL instead — but only from
WeChat's own image hosts (plus `media.allowed_hosts`), with every hop checked by the shared
MediaFetcher, and over https even when `PicUrl` says http (those hosts serve both).
Outbound, the 客服 API takes images up to 2 MB as temporary media; anything else goes as a link.
"""

from __future__ import annotations

from pathlib import Path

from bot.messages import Attachment, AttachmentKind
from channels.base import MediaStore
from channels.media_fetch import FetchRules, MediaFetcher
from channels.wechat_inbound import PIC_URL_REF

WECHAT_IMAGE_HOSTS = frozenset({"mmbiz.qpic.cn", "mmbiz.qlogo.cn", "mmsns.qpic.cn"})
IMAGE_UPLOAD_LIMIT = 2 * 1024 * 1024  # temporary image media
IMAGE_UPLOAD_TYPES = {"image/jpeg", "image/png", "image/gif"}


def pic_url_to_fetch(url: str, rules: FetchRules) -> str:
    """WeChat writes `http://mmbiz.qpic.cn/…`; where only https is allowed, ask for the https URL."""
    if url.lower().startswith("http://") and "http" not in rules.schemes:
        return "https://" + url[len("http://") :]
    return url


async def fetch_pic_url(fetcher: MediaFetcher, store: MediaStore, attachment: Attachment) -> Attachment:
    """Fetch a `picurl:` attachment; MediaRefused for any host, scheme or port off the rules."""
    url = pic_url_to_fetch(attachment.provider_ref.removeprefix(PIC_URL_REF), fetcher.rules)
    sha, path, size, ctype = await fetcher.fetch(url, store)
    ctype = ctype.split(";")[0].strip().lower()
    if ctype.startswith("image/"):
        attachment.mime = ctype
    attachment.sha256, attachment.stored_path, attachment.size = sha, str(path), size
    return attachment


def uploadable_image(att: Attachment) -> bool:
    size = att.size
    if size is None and att.stored_path:
        try:
            size = Path(att.stored_path).stat().st_size
        except OSError:
            return False
    return (
        att.kind == AttachmentKind.PHOTO
        and att.mime in IMAGE_UPLOAD_TYPES
        and size is not None
        and size <= IMAGE_UPLOAD_LIMIT
    )
