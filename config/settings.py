"""Settings: TOML file, then `AFTERSALES_<SECTION>__<KEY>` environment overrides, then validation.

Every mistake stops start-up with a message naming the key, because a bot that starts
with a typo in its Telegram secret fails silently at 3 a.m. instead of loudly at deploy.
"""

from __future__ import annotations

import base64
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "AFTERSALES_"
PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = PACKAGE_DIR / "default.toml"


class ConfigError(Exception):
    """A configuration problem, phrased for the operator, naming the key."""


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    sandbox: bool = False
    public_url: str = "http://127.0.0.1:8080"
    admin_token: str = ""
    max_body_bytes: int = 1_048_576
    body_timeout_seconds: float = 10.0  # a body not fully arrived by then is cut off, nothing stored
    flood_per_minute: int = 20  # messages one contact may send in a minute before the bot goes quiet
    trusted_proxies: list[str] = field(default_factory=list)  # X-Forwarded-* believed only from these
    intake_port: int = 0  # a second process answers the webhooks on this port (bot/core/link.py); 0: off


@dataclass
class DatabaseSettings:
    url: str = "sqlite+aiosqlite:///var/aftersales.db"


@dataclass
class MediaSettings:
    dir: str = "var/media"
    max_bytes: int = 20_000_000
    allowed_hosts: list[str] = field(default_factory=list)
    link_ttl_seconds: int = 86_400
    # Tests only: media from loopback addresses (local fake providers). Never set in production.
    allow_loopback: bool = False


@dataclass
class TelegramSettings:
    enabled: bool = False
    token: str = ""
    webhook_secret: str = ""
    api_base_url: str = "https://api.telegram.org/bot"
    file_base_url: str = "https://api.telegram.org/file/bot"


@dataclass
class WhatsAppSettings:
    enabled: bool = False
    account_sid: str = ""
    auth_token: str = ""
    from_number: str = ""
    api_base_url: str = "https://api.twilio.com"
    template_content_sid: str = ""


@dataclass
class WeChatSettings:
    enabled: bool = False
    app_id: str = ""
    app_secret: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    api_base_url: str = "https://api.weixin.qq.com/cgi-bin/"
    reply_mode: str = "api"
    max_clock_skew_seconds: int = 300  # a signed POST older or newer than this is a replay: 403
    allow_plain_mode: bool = False  # plain mode has no body authentication: refused outside sandbox


@dataclass
class EmailSettings:
    enabled: bool = False
    imap_host: str = ""
    imap_port: int = 993
    imap_ssl: bool = True
    imap_username: str = ""
    imap_password: str = ""
    mailbox: str = "INBOX"
    poll_seconds: int = 60
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_username: str = ""
    smtp_password: str = ""
    from_address: str = ""
    # The receiving server whose Authentication-Results are believed; empty: no sender is authenticated.
    trusted_authserv_id: str = ""


@dataclass
class EscalationSettings:
    rota_file: str = "config/rota.toml"
    keywords_file: str = "config/urgent_keywords.toml"
    ack_timeout_seconds: int = 300
    max_rounds: int = 3
    faq_file: str = "config/faq.toml"
    relay_idle_seconds: int = 7200  # a conversation with staff returns to the bot after this much silence
    digest_time: str = "08:30"  # the morning digest to whoever is on call, rota time zone (HH:MM[:SS])
    coverage_time: str = "08:30"  # the daily check for hours nobody is on call (HH:MM[:SS])


@dataclass
class CalendarSettings:
    file: str = "config/calendar.toml"  # public holidays and factory closures; "" for none


@dataclass
class ClaimsSettings:
    # Carton labels: read claim photos with Tesseract (English + Simplified Chinese) to find the order.
    ocr: bool = True
    ocr_timeout_seconds: float = 10.0  # one photo; Tesseract is stopped after this
    tesseract_cmd: str = "tesseract"  # a name on PATH or a path; missing: OCR is off and /healthz says so
    ocr_languages: str = "eng+chi_sim"
    shots_file: str = "config/claims.toml"  # the photos a claim needs, per defect category
    min_long_edge: int = 1000  # pixels: a claim photo smaller on its long side is asked again
    min_sharpness: float = 40.0  # variance of the Laplacian (docs/evidence-quality.md): below is blurry
    # Claim videos: length and size (limits: the shots file's [video]), a frame kept as thumbnail.
    video_check: bool = True
    video_timeout_seconds: float = 15.0  # one ffprobe or ffmpeg run; stopped after this
    ffprobe_cmd: str = "ffprobe"  # on PATH or a path; missing: videos are not checked, /healthz says so
    ffmpeg_cmd: str = "ffmpeg"  # takes the thumbnail frame; missing: no thumbnails


@dataclass
class OutboxSettings:
    max_attempts: int = 8
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 300.0
    concurrency: int = 8  # sends in flight at once: also the most a kill -9 can make go out twice


@dataclass
class ClusterSettings:
    """Several `serve` processes on one PostgreSQL (CONTRACT.md "Running several processes")."""

    instance: str = ""  # this process's name in /healthz, leases and logs; "" = hostname:pid
    lease_seconds: float = 10.0  # a dead process's outbox leases run out after this (heartbeat: a quarter)
    sweep_seconds: float = 2.0  # how often messages stored but not handled (another process died) are sought
    leader_retry_seconds: float = 2.0  # how often a follower tries to take a singleton whose leader is gone
    drain_seconds: float = 2.0  # SIGTERM: /healthz answers 503 this long before the server stops listening
    stop_grace_seconds: float = 10.0  # then: time to finish what this process holds before it exits


@dataclass
class DocumentsSettings:
    """The generated PDFs: who the seller is, and the fonts they embed (a broker's viewer has no others)."""

    cjk_font: str = ""  # TrueType/TTC with Chinese glyphs; empty: the first of the known system paths
    cjk_font_index: int = 0  # the face inside a .ttc collection
    latin_font: str = ""  # TrueType for Latin text; empty: DejaVu Sans from the known system paths
    latin_bold_font: str = ""  # its bold face; empty: DejaVu Sans Bold
    seller_name: str = ""
    seller_address: str = ""
    seller_tax_id: str = ""  # e.g. the Unified Social Credit Code
    seller_contact: str = ""  # person, phone, e-mail


@dataclass
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    whatsapp: WhatsAppSettings = field(default_factory=WhatsAppSettings)
    wechat: WeChatSettings = field(default_factory=WeChatSettings)
    email: EmailSettings = field(default_factory=EmailSettings)
    escalation: EscalationSettings = field(default_factory=EscalationSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    documents: DocumentsSettings = field(default_factory=DocumentsSettings)
    claims: ClaimsSettings = field(default_factory=ClaimsSettings)
    source: str = field(default="", compare=False)  # the file the settings came from

    def secrets(self) -> list[str]:
        """Values that must never appear in a log line."""
        values = [
            self.server.admin_token,
            self.telegram.token,
            self.telegram.webhook_secret,
            self.whatsapp.auth_token,
            self.wechat.app_secret,
            self.wechat.token,
            self.wechat.encoding_aes_key,
            self.email.imap_password,
            self.email.smtp_password,
        ]
        if self.whatsapp.account_sid and self.whatsapp.auth_token:
            # Twilio's media downloads send `Authorization: Basic base64(sid:token)`: the token encoded.
            pair = f"{self.whatsapp.account_sid}:{self.whatsapp.auth_token}".encode()
            values.append(base64.b64encode(pair).decode())
        return [v for v in values if v and len(v) >= 4]


# Secrets an enabled channel cannot work without.
_SECTION_TYPES: frozenset[str] = frozenset(f.name for f in fields(Settings) if f.name != "source")


def _check_type(key: str, value: Any, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"config: {key} must be a list, got {type(value).__name__}")
        return [_check_type(f"{key}[{i}]", v, item_tp) for i, v in enumerate(value)]
    if origin in (types.UnionType, typing.Union):
        raise ConfigError(f"config: {key}: unsupported type")  # pragma: no cover - no optional keys
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config: {key} must be a boolean (true/false), got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config: {key} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"config: {key} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"config: {key} must be a string, got {value!r}")
        return value
    raise ConfigError(f"config: {key}: unsupported type {tp}")  # pragma: no cover


def _parse_env_value(key: str, raw: str, tp: Any) -> Any:
    """Environment values are strings; read them as the key's declared type."""
    if typing.get_origin(tp) is list:
        return [part.strip() for part in raw.split(",") if part.strip()]
    if tp is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"config: {key} (from environment) must be true or false, got {raw!r}")
    if tp is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"config: {key} (from environment) must be an integer, got {raw!r}") from None
    if tp is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"config: {key} (from environment) must be a number, got {raw!r}") from None
    return raw


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config: file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path}: invalid TOML: {exc}") from None


def resolve_path(explicit: str | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("AFTERSALES_CONFIG")
    if env:
        return Path(env)
    local = Path("config/default.toml")
    return local if local.exists() else DEFAULT_CONFIG


def load_settings(path: str | Path | None = None, env: typing.Mapping[str, str] | None = None) -> Settings:
    """Read, override from the environment, type-check and validate; raise ConfigError naming the key."""
    file = resolve_path(str(path) if path else None)
    raw = _read_toml(file)
    environ = os.environ if env is None else env
    hints = typing.get_type_hints(Settings)

    values: dict[str, dict[str, Any]] = {}
    for section, body in raw.items():
        if section not in _SECTION_TYPES:
            raise ConfigError(f"config: unknown section [{section}] in {file}")
        if not isinstance(body, dict):
            raise ConfigError(f"config: [{section}] must be a table")
        section_hints = typing.get_type_hints(hints[section])
        for key, value in body.items():
            if key not in section_hints:
                raise ConfigError(f"config: unknown key {section}.{key} in {file}")
            values.setdefault(section, {})[key] = _check_type(f"{section}.{key}", value, section_hints[key])

    for name, raw_value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name[len(ENV_PREFIX) :]:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section not in _SECTION_TYPES:
            raise ConfigError(f"config: unknown section {section!r} in environment variable {name}")
        section_hints = typing.get_type_hints(hints[section])
        if key not in section_hints:
            raise ConfigError(f"config: unknown key {section}.{key} in environment variable {name}")
        values.setdefault(section, {})[key] = _parse_env_value(
            f"{section}.{key}", raw_value, section_hints[key]
        )

    sections = {name: hints[name](**values.get(name, {})) for name in _SECTION_TYPES}
    settings = Settings(**sections, source=str(file))
    from config.validation import validate  # it reads these types; importing it here keeps one direction

    validate(settings)
    return settings
