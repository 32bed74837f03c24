"""Message catalogs: every text in the code is in every catalog, translated and reviewed; the Translator.

The completeness check runs Babel's own extractor over the source tree with the keywords
`make catalogs` uses, so a text added to the code without running `make catalogs` (or a
catalog entry left untranslated or fuzzy after it) fails here, not in front of a client.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, LOCALE_DIR, Translator, available_languages, normalise, side_by_side

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "escalation", "channels", "storage")  # babel.cfg's python sections
KEYWORDS = {"_": None, "ngettext": (1, 2), "N_": None}  # the same as `make catalogs`
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")
# A call with a literal first argument, which Babel's extractor must have found.
LITERAL_CALL = re.compile(
    r"""(?<![\w.])(?:\w+\.)?(?:_|N_|ngettext)\(\s*(["'])((?:(?!\1)[^\\\n]|\\.)*)\1\s*[,)]"""
)


@cache
def code_msgids() -> dict[str, str]:
    """msgid (the singular for plurals) → one place it is used, as Babel extracts them."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        msgid = message if isinstance(message, str) else message[0]
        found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def catalogs() -> list[tuple[str, Catalog]]:
    out = []
    for po in sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with po.open("rb") as fh:
            out.append((po.parent.parent.name, read_po(fh, locale=po.parent.parent.name)))
    return out


def catalog_ids(catalog: Catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


def test_there_is_a_chinese_catalog() -> None:
    assert available_languages() == ["en", "zh"]
    assert len(code_msgids()) > 200  # the extractor found the texts (it matches `ctx._(...)` by name)


def test_the_console_templates_are_extracted() -> None:
    """babel.cfg's jinja2 section: a template text reaches the catalogs like a text in the code."""
    assert code_msgids()["Staff sign-in"].endswith("templates/login.html:4")


@pytest.mark.parametrize("language", [lang for lang in available_languages() if lang != "en"])
def test_catalog_has_every_msgid_of_the_code_and_nothing_stale(language: str) -> None:
    [catalog] = [c for lang, c in catalogs() if lang == language]
    in_code, in_catalog = code_msgids(), catalog_ids(catalog)
    missing = sorted(f"{where}: {msgid!r}" for msgid, where in in_code.items() if msgid not in in_catalog)
    assert not missing, f"run `make catalogs` and translate: {missing}"
    stale = sorted(in_catalog - set(in_code))
    assert not stale, f"no longer in the code, run `make catalogs`: {stale}"


@pytest.mark.parametrize("language", [lang for lang in available_languages() if lang != "en"])
def test_every_entry_is_translated_and_not_fuzzy(language: str) -> None:
    [catalog] = [c for lang, c in catalogs() if lang == language]
    assert not catalog.fuzzy, "the catalog header is marked fuzzy"
    bad = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            bad.append(f"fuzzy: {message.id!r}")
        elif not all(s.strip() for s in strings) or (
            len(strings) != catalog.num_plurals and message.pluralizable
        ):
            bad.append(f"untranslated: {message.id!r}")
        else:
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            wanted = set().union(*(PLACEHOLDER.findall(i) for i in ids))
            for s in strings:
                if set(PLACEHOLDER.findall(s)) != wanted:  # a typo would raise KeyError in front of a client
                    bad.append(f"placeholders {sorted(wanted)} ≠ {s!r}")
    assert not bad, bad


def test_no_literal_msgid_escapes_the_extractor() -> None:
    """Babel skips some calls (inside f-strings, some nested calls): every literal one must be extracted.

    The console's templates too: babel.cfg maps them to Jinja2's extractor, which a mapping
    left at python-only would silently skip.
    """
    extracted = set(code_msgids())
    skipped = []
    sources = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    sources += sorted((ROOT / "bot" / "web" / "console" / "templates").rglob("*.html"))
    for path in sources:
        for match in LITERAL_CALL.finditer(path.read_text()):
            msgid = match.group(2).encode().decode("unicode_escape").encode("latin-1").decode()
            if msgid not in extracted:
                skipped.append(f"{path.relative_to(ROOT)}: {msgid!r}")
    assert not skipped, skipped


# ---- the Translator -----------------------------------------------------------------------------


def test_unknown_language_falls_back_to_english() -> None:
    for language in ("xx", "fr-FR", "", None):
        tr = Translator.for_language(language)
        assert tr.language == "en"
        assert tr._("Order {order}: {stage}", order="PO-1", stage="Shipped") == "Order PO-1: Shipped"


def test_regional_and_script_variants_use_the_base_catalog() -> None:
    for language in ("zh", "zh-CN", "zh_CN", "ZH", "zh-Hans", " zh-TW "):
        assert normalise(language) == "zh", language
    tr = Translator.for_language("zh-CN")
    assert tr._("Order {order}: {stage}", order="PO-1", stage=tr._("Shipped")) == "订单 PO-1：已发货"


def test_plural_forms() -> None:
    en, zh = Translator.for_language("en"), Translator.for_language("zh")
    singular, plural = "Evidence: {n} file", "Evidence: {n} files"
    assert en.ngettext(singular, plural, 1) == "Evidence: 1 file"
    assert en.ngettext(singular, plural, 0) == "Evidence: 0 files"
    assert en.ngettext(singular, plural, 2) == "Evidence: 2 files"
    assert zh.ngettext(singular, plural, 1) == "证据：1 个文件"  # Chinese has one form
    assert zh.ngettext(singular, plural, 5) == "证据：5 个文件"
    added = (
        "Added to {claim}: {n} file, {total} in total.",
        "Added to {claim}: {n} files, {total} in total.",
    )
    assert en.ngettext(*added, 1, claim="CLM-1", total=3) == "Added to CLM-1: 1 file, 3 in total."
    assert zh.ngettext(*added, 2, claim="CLM-1", total=3) == "已添加到索赔 CLM-1：2 个文件，共 3 个。"


def test_values_are_not_formatted_twice_and_unknown_msgids_stay_english() -> None:
    zh = Translator.for_language("zh")
    # a client's text with braces in it is a value, never a format string
    assert (
        zh._("Client answered on {claim}: {text}", claim="CLM-1", text="{oops}")
        == "客户就 CLM-1 回复：{oops}"
    )
    assert zh._("Not in any catalog") == "Not in any catalog"
    assert zh._("") == ""  # not the catalog header


def test_side_by_side_for_a_reader_of_unknown_language() -> None:
    assert side_by_side("Total amount", ("en", "zh")) == "Total amount / 总金额"
    assert side_by_side("Order status", ("zh", "en"), sep=" | ") == "订单状态 | Order status"
