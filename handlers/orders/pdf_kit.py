"""What every document is drawn with: the seller from config, paragraphs in embedded fonts, tables,
and the page numbers a multi-page document needs ("Page 1 of 2": a broker checks none is missing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, Table, TableStyle

from bot.i18n import N_, side_by_side
from config.settings import DocumentsSettings
from handlers.orders.fonts import DocumentFonts
from handlers.orders.pdf_numbers import Shipment, kg

# Export papers are read at both ends of the shipment: English for the buyer and customs, Chinese for
# the factory and the forwarder, whatever language the client chats in.
DOCUMENT_LANGUAGES = ("en", "zh")
_CJK = re.compile(r"[\u2e80-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def both(msgid: str, sep: str = " / ") -> str:
    """A label in every document language; `msgid` is marked with `N_()` where it is written."""
    return side_by_side(msgid, DOCUMENT_LANGUAGES, sep)


@dataclass(frozen=True)
class Seller:
    """The exporter as customs wants it; every field comes from `documents.seller_*`, never from code."""

    name: str = ""
    address: str = ""
    tax_id: str = ""
    contact: str = ""

    @classmethod
    def from_settings(cls, docs: DocumentsSettings) -> Seller:
        return cls(docs.seller_name, docs.seller_address, docs.seller_tax_id, docs.seller_contact)


class Pen:
    """Paragraphs in the embedded faces: text with a Chinese character in the CJK face (which has
    Latin glyphs too, so one paragraph is one font and pypdf reads it back in order), the rest in DejaVu.
    """

    def __init__(self, fonts: DocumentFonts) -> None:
        self.fonts = fonts

    def font_for(self, text: str, *, bold: bool = False) -> str:
        if _CJK.search(text):
            return self.fonts.cjk
        return self.fonts.bold if bold else self.fonts.latin

    def para(self, text: object, *, bold: bool = False, size: float = 8) -> Paragraph:
        value = "" if text is None else str(text)
        font = self.font_for(value, bold=bold)
        safe = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br/>")
        return Paragraph(safe, ParagraphStyle("c", fontName=font, fontSize=size, leading=size * 1.3))


def table(
    pen: Pen,
    data: list[list[Any]],
    widths: list[float] | None = None,
    *,
    header: bool = True,
    grid: bool = True,
) -> Table:
    """A table whose header repeats on each page; its cell font is an embedded face too, because
    reportlab selects the cell font (Helvetica by default) even for cells that hold paragraphs.
    """
    out = Table(data, colWidths=widths, repeatRows=1 if header else 0)
    style: list[Any] = [("FONTNAME", (0, 0), (-1, -1), pen.fonts.latin), ("VALIGN", (0, 0), (-1, -1), "TOP")]
    if grid:
        style.append(("GRID", (0, 0), (-1, -1), 0.4, colors.grey))
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")))
    out.setStyle(TableStyle(style))
    return out


def consignment(pen: Pen, ship: Shipment, width: float) -> Table:
    """Marks and numbers, packages, weights, volume: the invoice and the packing list state the same."""
    p = pen.para
    head = [
        both(N_("Marks and numbers")),
        both(N_("Packages")),
        both(N_("Net weight")),
        both(N_("Gross weight")),
        both(N_("Volume")),
    ]
    values = [
        p(ship.marks),
        p(f"{ship.packages:,} cartons"),
        p(f"{kg(ship.net_kg)} kg"),
        p(f"{kg(ship.gross_kg)} kg"),
        p(f"{ship.cbm:.3f} m³"),
    ]
    shares = [0.32, 0.17, 0.17, 0.17, 0.17]
    return table(pen, [[p(h, bold=True) for h in head], values], [width * s for s in shares])


def numbered_canvas(font: str, label: str) -> type[Canvas]:
    """A canvas that holds its pages back until the end, so each can say "Page n of N".

    Its initial font is an embedded one: reportlab's default (Helvetica) would otherwise be
    listed in every page's resources, unembedded, although nothing is drawn with it.
    """

    class NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no types
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["initialFontName"] = font  # the doc template passes None: reportlab's Helvetica
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                if total > 1:
                    self._footer(total)
                super().showPage()
            super().save()

        def _footer(self, total: int) -> None:
            width = self._pagesize[0]
            self.setFont(font, 7)
            self.drawRightString(width - 12 * mm, 7 * mm, f"{label} · Page {self._pageNumber} of {total}")

    return NumberedCanvas
