"""Message catalogs: English msgids in the code, one gettext catalog per language.

Code marks every text a person reads with `_()` / `ngettext()` (through a `Translator`), so
grammar such as plurals lives in the catalog and not in f-strings, and adding a language is
adding `config/locale/<lang>/LC_MESSAGES/aftersales.po`. `make install` compiles the
catalogs; a checkout that was never compiled still speaks every language, because a missing
or stale `.mo` is compiled in memory from its `.po` on first use.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DOMAIN = "aftersales"
SOURCE_LANGUAGE = "en"  # msgids are English: English needs no catalog
LOCALE_DIR = Path(__file__).resolve().parent.parent / "config" / "locale"


def available_languages() -> list[str]:
    """The source language and every language that has a catalog."""
    found = {p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    return [SOURCE_LANGUAGE, *sorted(found - {SOURCE_LANGUAGE})]


def normalise(language: str | None) -> str:
    """`zh-CN`, `zh_Hans`, `ZH` → `zh`; anything without a catalog → English."""
    base = (language or SOURCE_LANGUAGE).strip().replace("_", "-").split("-")[0].lower()
    return base if base in _available() else SOURCE_LANGUAGE


@cache
def _available() -> frozenset[str]:
    """The languages looked up once a process: `normalise` runs for every message."""
    return frozenset(available_languages())


@cache
def _translations(language: str) -> gettext.NullTranslations:
    po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    mo = po.with_suffix(".mo")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            return gettext.GNUTranslations(fh)
    if po.exists():
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        with po.open("rb") as fh:
            catalog = read_po(fh, locale=language, domain=DOMAIN)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        return gettext.GNUTranslations(buf)
    return gettext.NullTranslations()


@dataclass(frozen=True)
class Translator:
    """Texts for one reader: a client in their language, or a staff member in theirs."""

    language: str

    @classmethod
    def for_language(cls, language: str | None) -> Translator:
        return cls(normalise(language))

    def _(self, msgid: str, /, **values: object) -> str:
        # gettext("") is the catalog's header, never a text anybody should read
        text = _translations(self.language).gettext(msgid) if msgid else ""
        return text.format(**values) if values else text

    def ngettext(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        text = _translations(self.language).ngettext(singular, plural, n)
        return text.format(n=n, **values)


ENGLISH = Translator(SOURCE_LANGUAGE)


def side_by_side(msgid: str, languages: Iterable[str], sep: str = " / ") -> str:
    """One text in several languages at once, for a reader whose language nobody knows yet.

    A new WeChat follower has written nothing; customs documents are read on both ends
    of the shipment. `msgid` is marked with `N_()` where it is written.
    """
    return sep.join(Translator.for_language(lang)._(msgid) for lang in languages)


def N_(msgid: str) -> str:
    """Marks a msgid kept in a table, translated later where it is shown."""
    return msgid
