"""Technical questions answered from `config/faq.toml`, only when the match is confident.

A wrong answer about materials or lead times costs more than a short wait for a
person, so the matcher reports "no confident answer" rather than its best guess:
the handler then hands the question to staff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from escalation.keywords import _word
from escalation.rota import RotaError, read_config_file

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass(frozen=True)
class FaqEntry:
    id: str
    keywords: dict[str, tuple[re.Pattern[str], ...]]
    questions: dict[str, tuple[str, ...]]
    answers: dict[str, str]


@dataclass(frozen=True)
class FaqMatch:
    entry: FaqEntry
    score: float


def _norm(text: str) -> str:
    return _PUNCT.sub(" ", text.lower()).strip()


class Faq:
    def __init__(self, entries: list[FaqEntry], topics: list[re.Pattern[str]]) -> None:
        self.entries = entries
        self.topics = topics

    def is_inquiry(self, text: str) -> bool:
        lowered = text.lower()
        return any(t.search(lowered) for t in self.topics)

    def score(self, entry: FaqEntry, text: str) -> tuple[int, float]:
        lowered = text.lower()
        hits = sum(1 for patterns in entry.keywords.values() for p in patterns if p.search(lowered))
        norm = _norm(text)
        ratio = max(
            (SequenceMatcher(None, norm, _norm(q)).ratio() for qs in entry.questions.values() for q in qs),
            default=0.0,
        )
        return hits, ratio

    def answer(self, text: str) -> FaqMatch | None:
        """The entry that clearly answers `text`, or None when no entry is a confident match."""
        scored = []
        for entry in self.entries:
            hits, ratio = self.score(entry, text)
            confident = hits >= 2 or (hits >= 1 and ratio >= 0.55) or ratio >= 0.8
            scored.append((confident, hits + 2 * ratio, entry))
        scored.sort(key=lambda s: s[1], reverse=True)
        if not scored or not scored[0][0]:
            return None
        if len(scored) > 1 and scored[1][0] and scored[0][1] - scored[1][1] < 0.3:
            return None  # two entries fit about equally: a person should pick
        return FaqMatch(scored[0][2], scored[0][1])


def parse_faq(raw: dict[str, Any], file: str = "faq.toml") -> Faq:
    for key in raw:
        if key not in {"topics_en", "topics_zh", "entries"}:
            raise RotaError(file, key, "unknown entry")
    topics = []
    for key in ("topics_en", "topics_zh"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise RotaError(file, key, "must be a list of non-empty strings")
        topics += [_word(v) for v in value]
    entries: list[FaqEntry] = []
    seen: set[str] = set()
    for i, body in enumerate(raw.get("entries") or []):
        entry = f"entries[{i}]"
        if not isinstance(body, dict):
            raise RotaError(file, entry, "must be a table")
        eid = body.get("id")
        if not isinstance(eid, str) or not eid:
            raise RotaError(file, f"{entry}.id", "required")
        if eid in seen:
            raise RotaError(file, f"{entry}.id", f"duplicate id {eid!r}")
        seen.add(eid)
        allowed = {"id"} | {
            f"{k}_{lang}" for k in ("keywords", "questions", "answer") for lang in ("en", "zh")
        }
        unknown = set(body) - allowed
        if unknown:
            raise RotaError(file, f"{entry}.{sorted(unknown)[0]}", "unknown key")
        answers = {}
        for lang in ("en", "zh"):
            ans = body.get(f"answer_{lang}")
            if not isinstance(ans, str) or not ans.strip():
                raise RotaError(
                    file, f"{entry}.answer_{lang}", "required: every answer in English and Chinese"
                )
            answers[lang] = ans.strip()
        keywords: dict[str, tuple[re.Pattern[str], ...]] = {}
        questions: dict[str, tuple[str, ...]] = {}
        for lang in ("en", "zh"):
            words = _strings(body, file, entry, f"keywords_{lang}")
            keywords[lang] = tuple(_word(v) for v in words)
            questions[lang] = tuple(_strings(body, file, entry, f"questions_{lang}"))
        if not any(keywords.values()) and not any(questions.values()):
            raise RotaError(file, entry, "needs keywords or questions to be matched")
        entries.append(FaqEntry(eid, keywords, questions, answers))
    return Faq(entries, topics)


def load_faq(path: str | Path) -> Faq:
    return parse_faq(read_config_file(path), str(path))


def _strings(body: dict[str, Any], file: str, entry: str, key: str) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RotaError(file, f"{entry}.{key}", "must be a list of non-empty strings")
    return value
