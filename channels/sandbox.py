"""Sandbox mode: every provider replaced by a recorder, so the demo never leaves the machine."""

from __future__ import annotations

import logging
import uuid

from bot.messages import Attachment, MediaRefused, MediaTooLarge, OutboundMessage
from bot.ports import Capabilities
from channels.base import MediaStore

log = logging.getLogger(__name__)


class SandboxSender:
    """Records what would have been sent and reports it delivered (buttons and edits as made)."""

    capabilities = Capabilities(buttons=True, edits=True, max_text=None, media_per_message=None, quotes=True)

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    async def send(self, out: OutboundMessage) -> str:
        # The one place outbound text is logged, so the demo shows what would have gone out; this
        # sender exists only with server.sandbox = true (provider libraries are kept quiet in bot.core.logs).
        self.sent.append(out)
        log.info("sandbox: %s to %s: %s", out.channel, out.channel_user_id, out.text[:200])
        return f"sandbox-{uuid.uuid4().hex[:12]}"


class SandboxFetcher:
    """Resolves `sandbox:<sha256>` references that `aftersales simulate --photo` staged in the store."""

    def __init__(self, store: MediaStore) -> None:
        self.store = store

    async def fetch_media(self, attachment: Attachment) -> Attachment:
        if attachment.error == "too_large":  # the adapter already refused it (email parts over the cap)
            raise MediaTooLarge(attachment.size, self.store.max_bytes)
        ref = attachment.provider_ref
        sha = ref.removeprefix("sandbox:")
        if not ref.startswith("sandbox:") or len(sha) != 64 or not all(c in "0123456789abcdef" for c in sha):
            raise MediaRefused("sandbox mode fetches only staged sandbox: references")
        path = self.store.path_for(sha)
        if not path.is_file():
            raise MediaRefused("staged file not found")
        attachment.sha256 = sha
        attachment.stored_path = str(path)
        attachment.size = path.stat().st_size
        return attachment
