"""The fonts the documents draw with: found and loaded once, at start-up, and embedded as subsets.

A PDF that only *names* a font (reportlab's STSong-Light CID font, Adobe's Asian font pack)
shows empty boxes for every Chinese character on a viewer without that pack — most brokers'
Linux machines and many web viewers. So every face here is a TrueType file that reportlab
subsets into the PDF: a freely licensed CJK font for text with Chinese characters, DejaVu Sans
for the rest. A missing or unusable font stops start-up with the config key to set, instead
of the first invoice a client asks for failing.
reportlab reads TrueType outlines only: Noto CJK's .ttc (CFF outlines) does not load, which is
why the list below prefers WenQuanYi and AR PL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

from config.settings import ConfigError, DocumentsSettings

# (path, face index in a collection); Debian/Ubuntu first, then Fedora's layout.
KNOWN_CJK: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/arphic-gbsn00lp/gbsn00lp.ttf", 0),
    ("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc", 0),
)
KNOWN_LATIN: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)
KNOWN_LATIN_BOLD: tuple[str, ...] = tuple(p.replace(".ttf", "-Bold.ttf") for p in KNOWN_LATIN)
CJK_PROBE = "商业发票装箱单"  # a face that lacks these would draw the boxes this module exists to avoid
PACKAGES = "fonts-wqy-microhei and fonts-dejavu-core"


@dataclass(frozen=True)
class DocumentFonts:
    """reportlab font names, registered: `cjk` for text with Chinese characters, `latin`/`bold` otherwise."""

    cjk: str
    latin: str
    bold: str
    files: tuple[str, ...]


_loaded: dict[tuple[str, int], str] = {}


def _register(path: str, index: int, key: str) -> str:
    """Load one face (cached: reportlab keeps registered fonts for the process) and name it."""
    if (path, index) in _loaded:
        return _loaded[(path, index)]
    name = f"Doc{len(_loaded)}-{Path(path).stem}-{index}"
    try:
        font = TTFont(name, path, subfontIndex=index)
    except (TTFError, OSError, ValueError, IndexError) as exc:
        raise ConfigError(
            f"config: documents.{key}: {path} is not a TrueType font reportlab can embed ({exc})"
        ) from None
    pdfmetrics.registerFont(font)
    _loaded[(path, index)] = name
    return name


def _not_found(key: str, what: str, known: Sequence[str]) -> NoReturn:
    raise ConfigError(
        f"config: documents.{key} is empty and no {what} was found at the known system paths "
        f"({', '.join(known)}); install {PACKAGES} or set documents.{key} to a .ttf/.ttc file"
    )


def _first(configured: str, known: Sequence[str], key: str, what: str) -> str:
    if configured:
        return configured
    for path in known:
        if Path(path).is_file():
            return path
    _not_found(key, what, known)


def load_fonts(
    docs: DocumentsSettings,
    *,
    known_cjk: Sequence[tuple[str, int]] = KNOWN_CJK,
    known_latin: Sequence[str] = KNOWN_LATIN,
    known_bold: Sequence[str] = KNOWN_LATIN_BOLD,
) -> DocumentFonts:
    """Find, load and check the three faces; ConfigError naming the key when one is missing or unusable."""
    cjk_index = docs.cjk_font_index
    if docs.cjk_font:
        cjk_path = docs.cjk_font
    else:
        found = [(p, i) for p, i in known_cjk if Path(p).is_file()]
        if not found:
            _not_found("cjk_font", "font with Chinese glyphs", [p for p, _ in known_cjk])
        cjk_path, cjk_index = found[0]
    cjk = _register(cjk_path, cjk_index, "cjk_font")
    face = pdfmetrics.getFont(cjk).face
    missing = [ch for ch in CJK_PROBE if ord(ch) not in face.charToGlyph]
    if missing:
        raise ConfigError(
            f"config: documents.cjk_font: {cjk_path} (face {cjk_index}) has no glyph for {''.join(missing)}; "
            "choose a font with Simplified Chinese (e.g. WenQuanYi Micro Hei)"
        )
    latin_path = _first(docs.latin_font, known_latin, "latin_font", "DejaVu Sans")
    bold_path = _first(docs.latin_bold_font, known_bold, "latin_bold_font", "DejaVu Sans Bold")
    return DocumentFonts(
        cjk=cjk,
        latin=_register(latin_path, 0, "latin_font"),
        bold=_register(bold_path, 0, "latin_bold_font"),
        files=(cjk_path, latin_path, bold_path),
    )
