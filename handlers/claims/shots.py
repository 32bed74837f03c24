"""The photos a claim needs (the shot list of config/claims.toml) and which photo is which shot.

QC cannot judge a zipper from a photo of the carton: the list says, per defect category,
which shots to ask for and how to say it to the client (English and Chinese in the file
itself, as the FAQ does, so the factory adds a shot without touching code or catalogs).

Which shot a photo is, kept simple: the photos fill the missing shots in the order they
arrive (photo N of a message fills the Nth missing shot), unless the caption names a shot
(one of its `words`), which the first photo of that message then is. A photo that is not
good enough still gets its shot's name, but the shot stays missing until a good one comes.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.ids import fold
from config.settings import ConfigError

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT = "default"


@dataclass(frozen=True)
class Shot:
    name: str
    en: str
    zh: str
    words: tuple[str, ...] = ()

    def label(self, language: str) -> str:
        return self.zh if language.startswith("zh") and self.zh else self.en


@dataclass(frozen=True)
class ShotList:
    by_category: dict[str, tuple[str, ...]]
    shots: dict[str, Shot]

    def needed(self, category: str | None) -> list[str]:
        return list(self.by_category.get(category or DEFAULT) or self.by_category.get(DEFAULT, ()))

    def label(self, name: str, language: str) -> str:
        shot = self.shots.get(name)
        return shot.label(language) if shot else name.replace("_", " ")

    def named_in(self, caption: str, among: list[str]) -> str | None:
        """The shot of `among` the caption names (its longest matching word wins), or None."""
        text = fold(caption).lower()
        best: tuple[int, str] | None = None
        for name in among:
            shot = self.shots.get(name)
            for word in shot.words if shot else ():
                if word.lower() in text and (best is None or len(word) > best[0]):
                    best = (len(word), name)
        return best[1] if best else None


def missing(needed: list[str], taken: list[tuple[str | None, bool]]) -> list[str]:
    """The needed shots without a good photo yet, in the list's order; `taken` is (shot, ok) per photo."""
    good = {shot for shot, ok in taken if ok and shot}
    return [name for name in needed if name not in good]


def assign(missing_now: list[str], count: int, named: str | None = None) -> list[str | None]:
    """The shot of each of `count` new photos: the named one first, then the missing ones in order."""
    rest = [name for name in missing_now if name != named]
    out: list[str | None] = []
    for i in range(count):
        if i == 0 and named:
            out.append(named)
        else:
            out.append(rest.pop(0) if rest else None)  # beyond the list: an extra photo, no shot
    return out


def load(path: str) -> ShotList:
    """Read and check the shot list; a mistake names the file and the entry (ConfigError at start-up)."""
    return parse(read(path), path)


def read(path: str) -> dict[str, Any]:
    """The shots file as TOML (it also holds the `[video]` limits: handlers/claims/video.py)."""
    file = Path(path)
    if not file.is_absolute() and not file.exists() and (PROJECT_DIR / file).exists():
        file = PROJECT_DIR / file  # an installed project: the packaged file
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"claims shots: file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"claims shots: {path}: invalid TOML: {exc}") from None
    return raw


def parse(raw: dict[str, Any], path: str = "claims.toml") -> ShotList:
    lists = raw.get("shots")
    if not isinstance(lists, dict) or DEFAULT not in lists:
        raise ConfigError(f"claims shots: {path}: [shots] needs a `default` list")
    shots: dict[str, Shot] = {}
    for name, entry in (raw.get("shot") or {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("en"), str) or not entry["en"]:
            raise ConfigError(f"claims shots: {path}: [shot.{name}] needs `en`, the instruction in English")
        words = entry.get("words", [])
        if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
            raise ConfigError(f"claims shots: {path}: [shot.{name}] words must be a list of strings")
        zh = entry.get("zh", "")
        if not isinstance(zh, str):
            raise ConfigError(f"claims shots: {path}: [shot.{name}] zh must be a string")
        shots[name] = Shot(name, entry["en"], zh, tuple(words))
    by_category: dict[str, tuple[str, ...]] = {}
    for category, names in lists.items():
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"claims shots: {path}: shots.{category} must be a list of shot names")
        unknown = [n for n in names if n not in shots]
        if unknown:
            raise ConfigError(
                f"claims shots: {path}: shots.{category} names {', '.join(unknown)} without a [shot.…] entry"
            )
        by_category[category] = tuple(names)
    return ShotList(by_category, shots)
