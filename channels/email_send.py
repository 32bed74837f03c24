"""Our replies by SMTP (aiosmtplib): threaded into the client's conversation, stable Message-IDs.

A reply goes on in the thread it answers (the In-Reply-To/References of the client's last
mail a person wrote, from the mailbox state); an alert or a document to an address that
never wrote starts a new thread. A retried send keeps its Message-ID.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import aiosmtplib

from bot.i18n import N_, side_by_side
from bot.messages import OutboundMessage, SendError
from bot.ports import MailboxState
from channels.degrade import numbered
from channels.email_out import OutgoingFile, build_mail, reply_subject
from config.settings import EmailSettings


class SmtpSender:
    def __init__(self, settings: EmailSettings, mailbox: MailboxState | None) -> None:
        self.settings = settings
        self.mailbox = mailbox

    async def _thread(self, out: OutboundMessage) -> dict[str, Any]:
        if out.extra.get("in_reply_to") or out.extra.get("subject"):
            return dict(out.extra)
        if self.mailbox is None:
            return {}
        return await self.mailbox.last_thread(out.channel_user_id) or {}

    def message_id_for(self, out: OutboundMessage) -> str:
        """Stable per outbox row, so a retried send is recognisably the same mail."""
        domain = (self.settings.from_address.rpartition("@")[2] or "aftersales.invalid").strip(">")
        key = out.idempotency_key or repr(out.to_json())
        return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"

    def build(self, out: OutboundMessage, thread: dict[str, Any]) -> Any:
        files: list[OutgoingFile] = []
        for att in out.attachments:
            if att.stored_path and Path(att.stored_path).is_file():
                name = att.filename or f"{att.kind}{Path(att.stored_path).suffix or ''}"
                files.append(OutgoingFile(att.mime, name, Path(att.stored_path).read_bytes()))
        tag = out.extra.get("tag") or thread.get("tag")
        if thread.get("message_id") or thread.get("in_reply_to"):
            subject = reply_subject(str(thread.get("subject") or ""), tag)
        else:  # a new thread (an alert, a document to an address that never wrote): no "Re:"
            subject = str(out.extra.get("subject") or side_by_side(N_("After-sales"), ("en", "zh")))
            if tag and f"[{tag}]" not in subject:
                subject = f"{subject} [{tag}]"
        return build_mail(
            from_address=self.settings.from_address,
            to=out.channel_user_id,
            subject=subject,
            text=numbered(out.text, [b.label for b in out.buttons]) if out.buttons else out.text,
            message_id=self.message_id_for(out),
            in_reply_to=thread.get("in_reply_to")
            if out.extra.get("in_reply_to")
            else thread.get("message_id"),
            references=list(thread.get("references") or []),
            files=files,
        )

    async def send(self, out: OutboundMessage) -> str:
        """`out` as the channel shows it (degraded by the adapter): buttons are numbered lines."""
        if not out.text and not out.attachments:
            raise SendError("nothing to send: no text and no file", permanent=True)
        msg = self.build(out, await self._thread(out))
        s = self.settings
        try:
            await aiosmtplib.send(
                msg,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username or None,
                password=s.smtp_password or None,
                use_tls=s.smtp_port == 465,  # implicit TLS on the submissions port
                start_tls=bool(s.smtp_starttls) and s.smtp_port != 465,
                timeout=30,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise SendError(f"smtp refused recipient: {exc}", permanent=all(c >= 500 for c in codes)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise SendError(f"smtp {exc.code}: {exc.message}", permanent=exc.code >= 500) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SendError(f"smtp unavailable: {type(exc).__name__}: {exc}") from exc
        return str(msg["Message-ID"])
