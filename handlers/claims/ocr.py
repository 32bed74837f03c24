"""Reading the text on a claim photo with Tesseract (English and Simplified Chinese).

Clients photograph the carton's shipping mark rather than look up the PO; what Tesseract
reads there lets handlers.claims.labels find the order. Tesseract is a separate program
(Debian: tesseract-ocr, tesseract-ocr-chi-sim): where it is missing the feature is off,
never an error, and /healthz says why.

Reading is CPU work of a second or more per photo, so it runs in a thread (never on the
event loop), on a grey copy scaled down to `MAX_EDGE`, and Tesseract is stopped after
the configured time. The engine reads each inbound photo before its write transaction
(`prepare`), so the database lock is never held while Tesseract works; handlers then
find the result in a small cache by the file's sha256.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
from collections import OrderedDict
from pathlib import Path

import pytesseract
from PIL import Image, ImageOps

from bot.messages import AttachmentKind, InboundMessage
from config.settings import ClaimsSettings

log = logging.getLogger(__name__)

MAX_EDGE = 1600  # a label's letters stay 30+ px high; a 12 MP photo would take Tesseract ten times longer
CACHE_SIZE = 256
MAX_TEXT = 4000  # characters kept of what was read
PARALLEL = 2  # Tesseract runs at once per process: each already keeps a core busy


class LabelReader:
    """Tesseract behind a time limit; `status` is "on" or "off: <why>"."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        timeout_seconds: float = 10.0,
        tesseract_cmd: str = "tesseract",
        languages: str = "eng+chi_sim",
    ) -> None:
        self.timeout = timeout_seconds
        self.languages = languages
        self.cmd = shutil.which(tesseract_cmd) if enabled else None
        self.status = self._check(enabled, tesseract_cmd)
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._slots = asyncio.Semaphore(PARALLEL)

    @classmethod
    def from_settings(cls, c: ClaimsSettings) -> LabelReader:
        return cls(
            enabled=c.ocr,
            timeout_seconds=c.ocr_timeout_seconds,
            tesseract_cmd=c.tesseract_cmd,
            languages=c.ocr_languages,
        )

    def _check(self, enabled: bool, tesseract_cmd: str) -> str:
        if not enabled:
            return "off: disabled (claims.ocr = false)"
        if self.cmd is None:
            return f"off: tesseract not found ({tesseract_cmd})"
        try:
            listed = subprocess.run(
                [self.cmd, "--list-langs"], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError) as exc:
            self.cmd = None
            return f"off: tesseract does not run ({type(exc).__name__})"
        have = set(listed.stdout.split()[1:] if listed.stdout else [])
        missing = [lang for lang in self.languages.split("+") if lang not in have]
        if missing:
            self.cmd = None
            return f"off: tesseract has no language data for {', '.join(missing)}"
        return "on"

    @property
    def on(self) -> bool:
        return self.cmd is not None

    async def health(self) -> str:
        return self.status

    def cached(self, sha256: str | None) -> str | None:
        return self._cache.get(sha256) if sha256 else None

    async def read(self, path: str | None, sha256: str | None = None) -> str | None:
        """The text on the photo ("" when there is none); None when OCR is off or the photo unreadable."""
        if not self.on or not path:
            return None
        if sha256 and sha256 in self._cache:
            return self._cache[sha256]
        async with self._slots:
            text = await asyncio.to_thread(self._read_file, path)
        if text is not None and sha256:
            self._cache[sha256] = text
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return text

    async def prepare(self, inbound: InboundMessage) -> None:
        """Read a message's photos before its transaction; the handlers take the text from the cache."""
        for att in inbound.attachments:
            if att.kind == AttachmentKind.PHOTO and att.stored_path and not att.error:
                await self.read(att.stored_path, att.sha256)

    def _read_file(self, path: str) -> str | None:
        try:
            with Image.open(Path(path)) as img:
                img.draft("L", (MAX_EDGE, MAX_EDGE))  # JPEG: decoded at a smaller scale, much faster
                grey = ImageOps.exif_transpose(img).convert("L")
            grey.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            log.info("ocr: %s is not a readable image: %s", path, type(exc).__name__)
            return None
        pytesseract.pytesseract.tesseract_cmd = self.cmd
        try:
            text = pytesseract.image_to_string(grey, lang=self.languages, timeout=self.timeout)
        except RuntimeError as exc:  # pytesseract's "Tesseract process timeout"
            log.warning("ocr: %s not read within %ss: %s", path, self.timeout, exc)
            return None
        except (OSError, pytesseract.TesseractError) as exc:
            log.warning("ocr: tesseract failed on %s: %s", path, exc)
            return None
        return str(text).strip()[:MAX_TEXT]
