"""Structured (JSON) logs with the request id, and secrets scrubbed from every line.

Provider libraries log request URLs, and Telegram's URLs contain the bot token; exception
texts and tracebacks can carry a URL with WeChat's access token or a header value. The
filter scrubs the message, and the formatter scrubs the message, the traceback and the
stack again, so nothing secret is written whichever way it got into the record. Secrets
known only at run time (the access token an adapter fetches) are registered by name.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

MIN_SECRET = 4  # shorter values would blank out ordinary words
KEEP_RUNTIME = 2  # the current value of a runtime secret and the one before (still in flight)


def _variants(secret: str) -> set[str]:
    """The secret as written, and as it appears in a URL's path or query string."""
    return {secret, quote(secret, safe=""), quote_plus(secret)}


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._static = {v for s in secrets if s and len(s) >= MIN_SECRET for v in _variants(s)}
        self._runtime: dict[str, list[str]] = {}
        self.secrets: list[str] = []
        self._rebuild()

    def _rebuild(self) -> None:
        values = set(self._static)
        for kept in self._runtime.values():
            values.update(v for s in kept for v in _variants(s))
        self.secrets = sorted(values, key=len, reverse=True)  # longest first: no partial leftovers

    def runtime_secret(self, name: str, value: str) -> None:
        """Register the current value of a secret obtained at run time (it replaces older ones)."""
        if not value or len(value) < MIN_SECRET:
            return
        kept = [v for v in self._runtime.get(name, []) if v != value]
        self._runtime[name] = [*kept, value][-KEEP_RUNTIME:]
        self._rebuild()

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = self.scrub(record.getMessage())
            record.args = None
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: RedactSecrets | None = None) -> None:
        super().__init__()
        self.redact = redact

    def _clean(self, text: str) -> str:
        return self.redact.scrub(text) if self.redact is not None else text

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": self._clean(record.getMessage()),
            "request_id": request_id.get(),
        }
        if record.exc_info:
            entry["exc"] = self._clean(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exc"] = self._clean(record.exc_text)
        if record.stack_info:
            entry["stack"] = self._clean(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False)


def json_handler(stream: TextIO, redact: RedactSecrets) -> logging.Handler:
    """One JSON line per record on `stream`, scrubbed by `redact`."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(redact))
    handler.addFilter(redact)
    return handler


def quiet_libraries() -> None:
    """httpx logs every request URL at INFO, twilio every request's URL and headers, and
    python-telegram-bot (at DEBUG) the parameters, message text included, of every call: keep
    them at WARNING, so outbound text is logged only by the sandbox (and everything is scrubbed)."""
    for noisy in ("httpx", "httpcore", "aiohttp.access", "apscheduler", "twilio", "telegram"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def configure(secrets: list[str], level: int = logging.INFO) -> RedactSecrets:
    redact = RedactSecrets(secrets)
    root = logging.getLogger()
    root.handlers[:] = [json_handler(sys.stderr, redact)]
    root.setLevel(level)
    quiet_libraries()
    return redact
