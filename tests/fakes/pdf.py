"""Reading a PDF the way a broker's viewer does: its own font dictionary and its text."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from pypdf import PdfReader
from pypdf.generic import DictionaryObject

# The standard 14: every viewer has them, so a PDF may name them without embedding.
STANDARD_14 = frozenset(
    {
        "Courier", "Courier-Bold", "Courier-Oblique", "Courier-BoldOblique",
        "Helvetica", "Helvetica-Bold", "Helvetica-Oblique", "Helvetica-BoldOblique",
        "Times-Roman", "Times-Bold", "Times-Italic", "Times-BoldItalic", "Symbol", "ZapfDingbats",
    }
)  # fmt: skip


@dataclass(frozen=True)
class PdfFont:
    page: int
    name: str  # /BaseFont, e.g. AAAAAA+WenQuanYiMicroHei-0
    subtype: str
    embedded: bool  # the descriptor carries /FontFile, /FontFile2 or /FontFile3

    @property
    def acceptable(self) -> bool:
        """Embedded, or one of the standard 14 (any subset tag stripped)."""
        return self.embedded or self.name.split("+", 1)[-1] in STANDARD_14


def _descriptor(font: DictionaryObject) -> Any:
    if font.get("/Subtype") == "/Type0":
        font = font["/DescendantFonts"][0].get_object()
    fd = font.get("/FontDescriptor")
    return fd.get_object() if fd is not None else None


def _fonts_of(resources: Any, page: int, seen: set[int]) -> list[PdfFont]:
    out: list[PdfFont] = []
    if resources is None:
        return out
    resources = resources.get_object()
    for ref in (resources.get("/Font") or {}).values():
        font = ref.get_object()
        fd = _descriptor(font)
        embedded = fd is not None and any(k in fd for k in ("/FontFile", "/FontFile2", "/FontFile3"))
        if font.get("/Subtype") == "/Type3":
            embedded = True  # its glyphs are drawn by the PDF itself
        out.append(PdfFont(page, str(font.get("/BaseFont", "")).lstrip("/"), str(font["/Subtype"]), embedded))
    for ref in (resources.get("/XObject") or {}).values():  # forms carry resources of their own
        xobj = ref.get_object()
        if xobj.get("/Subtype") == "/Form" and id(xobj) not in seen:
            seen.add(id(xobj))
            out += _fonts_of(xobj.get("/Resources"), page, seen)
    return out


def pdf_fonts(data: bytes) -> list[PdfFont]:
    reader = PdfReader(io.BytesIO(data))
    out: list[PdfFont] = []
    for number, page in enumerate(reader.pages, 1):
        out += _fonts_of(page.get("/Resources"), number, set())
    return out


def page_texts(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]
