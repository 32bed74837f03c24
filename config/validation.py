"""Checks across settings that a type alone cannot say; each failure names the key to fix."""

from __future__ import annotations

from pathlib import Path

from config.settings import ENV_PREFIX, ConfigError, DocumentsSettings, Settings

REQUIRED_WHEN_ENABLED: dict[str, tuple[str, ...]] = {
    "telegram": ("token", "webhook_secret"),
    "whatsapp": ("account_sid", "auth_token", "from_number"),
    "wechat": ("app_id", "app_secret", "token"),
    "email": ("imap_host", "imap_username", "imap_password", "smtp_host", "from_address"),
}


def validate(settings: Settings) -> None:
    for channel, keys in REQUIRED_WHEN_ENABLED.items():
        section = getattr(settings, channel)
        if not section.enabled:
            continue
        if channel == "email" and settings.server.sandbox:
            keys = ("from_address",)  # the sandbox demo has no mailbox: mail comes by /api/email/ingest
        for key in keys:
            if not getattr(section, key):
                raise ConfigError(
                    f"config: {channel}.{key} is required when {channel}.enabled = true "
                    f"(set it in the file or as {ENV_PREFIX}{channel.upper()}__{key.upper()})"
                )
    for i, entry in enumerate(settings.server.trusted_proxies):
        import ipaddress

        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise ConfigError(
                f"config: server.trusted_proxies[{i}] must be an IP address or CIDR network, got {entry!r}"
            ) from None
    if settings.server.max_body_bytes <= 0:
        raise ConfigError("config: server.max_body_bytes must be positive")
    if settings.server.flood_per_minute < 0:
        raise ConfigError("config: server.flood_per_minute must be 0 (no limit) or more")
    if settings.media.max_bytes <= 0:
        raise ConfigError("config: media.max_bytes must be positive")
    if settings.wechat.reply_mode not in {"api", "passive"}:
        raise ConfigError(
            f"config: wechat.reply_mode must be 'api' or 'passive', got {settings.wechat.reply_mode!r}"
        )
    if settings.wechat.encoding_aes_key and len(settings.wechat.encoding_aes_key) != 43:
        raise ConfigError("config: wechat.encoding_aes_key must be 43 characters (or empty for plain mode)")
    wechat = settings.wechat
    plain = wechat.enabled and not wechat.encoding_aes_key
    if plain and not settings.server.sandbox and not wechat.allow_plain_mode:
        raise ConfigError(
            "config: wechat.encoding_aes_key is empty (plain mode: message bodies are not authenticated); "
            "set it (safe mode) or set wechat.allow_plain_mode = true"
        )
    if wechat.max_clock_skew_seconds < 1:
        raise ConfigError("config: wechat.max_clock_skew_seconds must be at least 1")
    if settings.telegram.webhook_secret:
        import re

        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", settings.telegram.webhook_secret):
            raise ConfigError("config: telegram.webhook_secret must be 1-256 characters of A-Z a-z 0-9 _ -")
    if not settings.database.url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError("config: database.url must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
    if settings.claims.min_long_edge < 1 or settings.claims.min_sharpness < 0:
        raise ConfigError(
            "config: claims.min_long_edge must be positive and claims.min_sharpness not negative"
        )
    if settings.outbox.max_attempts < 1:
        raise ConfigError("config: outbox.max_attempts must be at least 1")
    if settings.escalation.ack_timeout_seconds < 0:
        raise ConfigError("config: escalation.ack_timeout_seconds must not be negative")
    if settings.escalation.max_rounds < 1:
        raise ConfigError("config: escalation.max_rounds must be at least 1")
    if settings.claims.ocr_timeout_seconds <= 0:
        raise ConfigError("config: claims.ocr_timeout_seconds must be positive")
    if settings.server.intake_port and wechat.enabled and wechat.reply_mode == "passive":
        raise ConfigError(
            "config: server.intake_port cannot be used with wechat.reply_mode = 'passive' "
            "(a passive reply rides in the webhook's answer, which the intake process cannot wait for)"
        )
    if not 0 <= settings.server.intake_port < 65536 or settings.server.intake_port == settings.server.port:
        raise ConfigError("config: server.intake_port must be 0 (off) or a port other than server.port")
    if settings.escalation.relay_idle_seconds < 1:
        raise ConfigError("config: escalation.relay_idle_seconds must be at least 1")
    _validate_documents(settings.documents)


def _validate_documents(docs: DocumentsSettings) -> None:
    """A font path that is set must be a file; whether it draws Chinese is checked when it is loaded."""
    if docs.cjk_font_index < 0:
        raise ConfigError("config: documents.cjk_font_index must be 0 or more")
    for key in ("cjk_font", "latin_font", "latin_bold_font"):
        path = getattr(docs, key)
        if path and not Path(path).is_file():
            raise ConfigError(f"config: documents.{key}: no such font file: {path}")
