"""Urgency detection from `config/urgent_keywords.toml`: words, patterns, and negations.

Latin-script words match on word boundaries ("asap" but not "asapx"); Chinese has
no spaces, so Chinese words match as substrings. A negation ("not urgent", "不急")
cancels every hit in its own sentence, because "不紧急" contains "紧急" and "this is
not urgent" contains "urgent".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from escalation.rota import RotaError, read_config_file

DEFAULT_NEGATIONS = {
    "en": ["not urgent", "no rush", "no hurry", "not an emergency"],
    "zh": ["不急", "不着急", "不紧急", "不用急"],
}
SENTENCE = re.compile(r"[.!?;。！？；\n]+")
_SPACED = re.compile(r"^[\w\s'’-]+$", re.ASCII)


@dataclass(frozen=True)
class Hit:
    language: str
    matched: str


class UrgencyMatcher:
    def __init__(self, rules: dict[str, dict[str, list[re.Pattern[str]]]]) -> None:
        self.rules = rules

    def find(self, text: str) -> Hit | None:
        """The first urgent word or pattern outside a negated sentence, or None."""
        for sentence in SENTENCE.split(text or ""):
            lowered = sentence.lower()
            if not lowered.strip():
                continue
            if any(neg.search(lowered) for r in self.rules.values() for neg in r["negations"]):
                continue
            for lang, r in self.rules.items():
                for rx in r["words"] + r["patterns"]:
                    m = rx.search(lowered)
                    if m:
                        return Hit(lang, m.group(0))
        return None


def _word(phrase: str) -> re.Pattern[str]:
    escaped = r"\s+".join(re.escape(part) for part in phrase.lower().split())
    if _SPACED.match(phrase):
        return re.compile(rf"(?<![\w]){escaped}(?![\w])")
    return re.compile(escaped)


def parse_keywords(raw: dict[str, Any], file: str = "urgent_keywords.toml") -> UrgencyMatcher:
    rules: dict[str, dict[str, list[re.Pattern[str]]]] = {}
    for lang, body in raw.items():
        if not isinstance(body, dict):
            raise RotaError(file, lang, "must be a table with words, patterns, negations")
        unknown = set(body) - {"words", "patterns", "negations"}
        if unknown:
            raise RotaError(file, f"{lang}.{sorted(unknown)[0]}", "unknown key")
        lists: dict[str, list[str]] = {}
        for key in ("words", "patterns", "negations"):
            value = body.get(key, DEFAULT_NEGATIONS.get(lang, []) if key == "negations" else [])
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise RotaError(file, f"{lang}.{key}", "must be a list of non-empty strings")
            lists[key] = value
        patterns = []
        for i, p in enumerate(lists["patterns"]):
            try:
                patterns.append(re.compile(p, re.IGNORECASE))
            except re.error as exc:
                raise RotaError(file, f"{lang}.patterns[{i}]", f"invalid regular expression: {exc}") from None
        rules[lang] = {
            "words": [_word(w) for w in lists["words"]],
            "patterns": patterns,
            "negations": [_word(n) for n in lists["negations"]],
        }
    if not any(r["words"] or r["patterns"] for r in rules.values()):
        raise RotaError(file, "file", "no urgent words or patterns defined")
    return UrgencyMatcher(rules)


def load_keywords(path: str | Path) -> UrgencyMatcher:
    return parse_keywords(read_config_file(path), str(path))
