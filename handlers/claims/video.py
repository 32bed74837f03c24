"""Claim videos checked as they arrive: how long, how large, whether they play; a frame kept for QC.

A five-minute walk around a warehouse or a file no player opens is a round trip QC asks for a
day later; asked at once, the client still holds the bag. The limits are the `[video]` table of
the shots file (config/claims.toml): `max_seconds`, `max_bytes`.

Debian's ffprobe reads the container and ffmpeg takes one frame (a JPEG at most THUMB_EDGE px),
stored in the media store like any file (`<dir>/<sha[:2]>/<sha>`), so the console shows it through
`/media`. Both run as child processes, never on the event loop, and are killed at the time
limit. Only local files and the usual phone containers are opened (`-protocol_whitelist file`,
`-format_whitelist`): a playlist posing as a video must not make ffmpeg fetch or read anything
else. The engine probes each inbound video before its write transaction (`prepare`); the check
takes the result from a cache by sha256. Without ffprobe the check is off and /healthz says so.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.messages import AttachmentKind, InboundMessage
from config.settings import ClaimsSettings, ConfigError

log = logging.getLogger(__name__)

MAX_SECONDS = 60.0  # default of [video] max_seconds: the defect, not the warehouse
MAX_BYTES = 16_000_000  # default of [video] max_bytes: WhatsApp's own limit for a video
THUMB_EDGE = 480
CACHE_SIZE = 256
PARALLEL = 2  # probes at once per process: ffmpeg keeps a core busy while it decodes
FORMATS = "mov,matroska,webm,avi"  # ffmpeg demuxers: MP4/MOV/3GP, MKV/WebM, AVI
_SAFE = ["-protocol_whitelist", "file", "-format_whitelist", FORMATS]
_ENTRIES = "format=duration:stream=codec_type,width,height,duration"


@dataclass(frozen=True)
class Limits:
    max_seconds: float = MAX_SECONDS
    max_bytes: int = MAX_BYTES


def limits(raw: dict[str, Any], path: str = "claims.toml") -> Limits:
    """The `[video]` table of the shots file; absent: the defaults."""
    table = raw.get("video") or {}
    if not isinstance(table, dict):
        raise ConfigError(f"claims shots: {path}: [video] must be a table")
    seconds, size = table.get("max_seconds", MAX_SECONDS), table.get("max_bytes", MAX_BYTES)
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
        raise ConfigError(f"claims shots: {path}: video.max_seconds must be a positive number")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ConfigError(f"claims shots: {path}: video.max_bytes must be a positive integer")
    return Limits(float(seconds), size)


@dataclass(frozen=True)
class Probed:
    """What ffprobe found in the file (readable False: no video stream it could read)."""

    readable: bool
    size: int
    width: int = 0
    height: int = 0
    duration: float = 0.0
    thumbnail: str | None = None  # sha256 of the stored frame


@dataclass(frozen=True)
class VideoQuality:
    width: int
    height: int
    duration: float
    size: int
    thumbnail: str | None
    problems: list[str] = field(default_factory=list)  # "too_long", "too_large", "unreadable"

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": "video",
            "width": self.width,
            "height": self.height,
            "duration_seconds": self.duration,
            "bytes": self.size,
            "thumbnail": self.thumbnail,
            "ok": self.ok,
            "problems": list(self.problems),
        }


def assess(found: Probed, rules: Limits) -> VideoQuality:
    problems = []
    if not found.readable:
        problems.append("unreadable")
    if found.duration > rules.max_seconds:
        problems.append("too_long")
    if found.size > rules.max_bytes:
        problems.append("too_large")
    return VideoQuality(found.width, found.height, found.duration, found.size, found.thumbnail, problems)


def _store(media_dir: Path, data: bytes) -> str:
    """Keep the frame under <dir>/<sha[:2]>/<sha>, atomically (the same frame is stored once)."""
    sha = hashlib.sha256(data).hexdigest()
    final = media_dir / sha[:2] / sha
    if not final.is_file():
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".thumb-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, final)
    return sha


def _facts(out: bytes) -> tuple[int, int, float] | None:
    """Width, height and duration from ffprobe's JSON; None without a video stream."""
    try:
        info = json.loads(out or b"{}")
    except ValueError:
        return None
    streams = [s for s in info.get("streams") or [] if s.get("codec_type") == "video"]
    if not streams:
        return None
    stream = streams[0]
    try:
        duration = float((info.get("format") or {}).get("duration") or stream.get("duration") or 0.0)
    except (TypeError, ValueError):
        duration = 0.0
    return int(stream.get("width") or 0), int(stream.get("height") or 0), round(duration, 1)


class VideoProbe:
    """ffprobe and ffmpeg behind a time limit; `status` is "on" or "off: <why>"."""

    def __init__(
        self,
        media_dir: str | Path,
        *,
        enabled: bool = True,
        timeout_seconds: float = 15.0,
        ffprobe_cmd: str = "ffprobe",
        ffmpeg_cmd: str = "ffmpeg",
    ) -> None:
        self.media_dir = Path(media_dir)
        self.timeout = timeout_seconds
        self.ffprobe = shutil.which(ffprobe_cmd) if enabled else None
        self.ffmpeg = shutil.which(ffmpeg_cmd) if enabled else None
        if not enabled:
            self.status = "off: disabled (claims.video_check = false)"
        elif self.ffprobe is None:
            self.status = f"off: ffprobe not found ({ffprobe_cmd})"
        else:
            self.status = "on" if self.ffmpeg else f"on (no thumbnails: ffmpeg not found: {ffmpeg_cmd})"
        self._cache: OrderedDict[str, Probed] = OrderedDict()
        self._slots = asyncio.Semaphore(PARALLEL)

    @classmethod
    def from_settings(cls, c: ClaimsSettings, media_dir: str | Path) -> VideoProbe:
        return cls(
            media_dir,
            enabled=c.video_check,
            timeout_seconds=c.video_timeout_seconds,
            ffprobe_cmd=c.ffprobe_cmd,
            ffmpeg_cmd=c.ffmpeg_cmd,
        )

    @property
    def on(self) -> bool:
        return self.ffprobe is not None

    async def health(self) -> str:
        return self.status

    async def prepare(self, inbound: InboundMessage) -> None:
        """Probe a message's videos before its transaction; the check takes the result from the cache."""
        for att in inbound.attachments:
            if att.kind == AttachmentKind.VIDEO and att.stored_path and att.sha256 and not att.error:
                await self.probe(att.stored_path, att.sha256)

    async def probe(self, path: str, sha256: str) -> Probed | None:
        """The video's facts; None when the check is off or ffprobe did not finish in time."""
        if self.ffprobe is None:
            return None
        if sha256 in self._cache:
            return self._cache[sha256]
        try:
            size = Path(path).stat().st_size
        except OSError:
            return None
        url = "file:" + str(Path(path).resolve())  # never an option, never another protocol
        async with self._slots:
            ran = await self._run(
                self.ffprobe, *_SAFE, "-v", "error", "-show_entries", _ENTRIES, "-of", "json", url
            )
            if ran is None:
                return None  # not in time: not checked, rather than asking the client for our slowness
            facts = _facts(ran[1]) if ran[0] == 0 else None
            found = (
                Probed(True, size, *facts, thumbnail=await self._thumbnail(url, facts[2]))
                if facts
                else Probed(readable=False, size=size)
            )
        self._cache[sha256] = found
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return found

    async def _thumbnail(self, url: str, duration: float) -> str | None:
        """One frame (a second in, or the middle of a shorter clip) as a JPEG in the media store.

        At most THUMB_EDGE px on its long side, never enlarged."""
        if self.ffmpeg is None:
            return None
        at = f"{min(1.0, duration / 2):.2f}"
        edge = f"w='min(iw,{THUMB_EDGE})':h='min(ih,{THUMB_EDGE})'"
        scale = f"scale={edge}:force_original_aspect_ratio=decrease"
        ran = await self._run(
            self.ffmpeg,
            "-nostdin",
            *_SAFE,
            "-v",
            "error",
            "-ss",
            at,
            "-i",
            url,
            "-frames:v",
            "1",
            "-vf",
            scale,
            "-f",
            "image2pipe",
            "-c:v",
            "mjpeg",
            "-q:v",
            "4",
            "pipe:1",
        )
        if ran is None or ran[0] != 0 or not ran[1].startswith(b"\xff\xd8"):
            return None
        return await asyncio.to_thread(_store, self.media_dir, ran[1])

    async def _run(self, *argv: str) -> tuple[int, bytes] | None:
        """Exit code and standard output; None (the process killed) past the time limit."""
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            log.warning("video: %s does not run: %s", argv[0], exc)
            return None
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), self.timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            log.warning("video: %s stopped after %ss on %s", Path(argv[0]).name, self.timeout, argv[-1])
            return None
        except asyncio.CancelledError:  # shutting down: the child goes too
            proc.kill()
            raise
        return proc.returncode or 0, out
