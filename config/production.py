"""What `serve` refuses when server.sandbox = false: secrets that are missing, short, or the demo's.

config/demo.toml is public (it is in the repository and the README), so any value in it is
known to everyone; a production instance started with one of them would accept forged
webhooks or API calls. The check reads that file rather than a copy of its values, so a
new demo secret is refused the day it is added.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from config.settings import PACKAGE_DIR, ConfigError, Settings

DEMO_CONFIG = PACKAGE_DIR / "demo.toml"
MIN_SECRET_LENGTH = 16


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def demo_values(path: Path = DEMO_CONFIG) -> frozenset[str]:
    """Every string shipped in the demo config (a secret equal to any of them is public)."""
    with path.open("rb") as fh:
        return frozenset(v for v in _strings(tomllib.load(fh)) if v)


def checked_secrets(settings: Settings) -> list[tuple[str, str]]:
    """(key, value) of each secret in use: the admin token always, the rest for enabled channels.

    The keys a channel may leave empty (WeChat's AES key means plain mode, governed by
    wechat.allow_plain_mode; an SMTP relay without login) are checked only when set.
    """
    out = [("server.admin_token", settings.server.admin_token)]
    tg, wa, wc, em = settings.telegram, settings.whatsapp, settings.wechat, settings.email
    if tg.enabled:
        out += [("telegram.token", tg.token), ("telegram.webhook_secret", tg.webhook_secret)]
    if wa.enabled:
        out += [("whatsapp.auth_token", wa.auth_token)]
    if wc.enabled:
        out += [("wechat.app_secret", wc.app_secret), ("wechat.token", wc.token)]
        if wc.encoding_aes_key:
            out += [("wechat.encoding_aes_key", wc.encoding_aes_key)]
    if em.enabled:
        out += [("email.imap_password", em.imap_password)]
        if em.smtp_password:
            out += [("email.smtp_password", em.smtp_password)]
    return out


def check_production_secrets(settings: Settings, demo: frozenset[str] | None = None) -> None:
    """Raise ConfigError naming the first unusable secret; nothing to check in the sandbox."""
    if settings.server.sandbox:
        return
    known = demo_values() if demo is None else demo
    for key, value in checked_secrets(settings):
        if not value:
            why = "is empty"
        elif value in known:
            why = "is a value from config/demo.toml, which is public"
        elif len(value) < MIN_SECRET_LENGTH:
            why = f"is shorter than {MIN_SECRET_LENGTH} characters"
        else:
            continue
        raise ConfigError(
            f"config: {key} {why}; with server.sandbox = false set a random secret of at least "
            f"{MIN_SECRET_LENGTH} characters (e.g. `openssl rand -hex 16`)"
        )
