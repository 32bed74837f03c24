"""Each document rendered and read back: what customs asks for is on the page, every font is embedded.

The orders here are built in memory (the renderer reads nothing else); the fonts are the
system's, found as `serve` finds them. The font check reads the PDF's own font dictionary.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from config.settings import DocumentsSettings
from handlers.orders import pdf
from handlers.orders.fonts import DocumentFonts, load_fonts
from handlers.orders.pdf_kit import Seller
from storage.models import Client, Order, OrderLine
from tests.fakes.orders import pdf_text
from tests.fakes.pdf import page_texts, pdf_fonts

SELLER = Seller(
    name="Xiamen Lucky Star Luggage Co., Ltd.",
    address="88 Haicang Avenue, Xiamen 361026, China",
    tax_id="91350205TEST00042X",
    contact="Ms. Lin, +86 592 555 0101, lin@luckystar.example",
)
TODAY = date(2026, 12, 1)


@pytest.fixture(scope="module")
def fonts() -> DocumentFonts:
    return load_fonts(DocumentsSettings())


def line(sku: str, **values: object) -> OrderLine:
    base: dict[str, object] = {
        "description": "Laptop backpack 15.6in",
        "material": "600D polyester",
        "quantity": 2000,
        "unit_price": Decimal("8.50"),
        "currency": "USD",
        "hs_code": "4202.92",
        "origin": "CN",
        "packaging": "polybag, 20 pcs per carton",
        "cartons": 100,
        "carton_cm": [60, 40, 40],
        "gross_kg": 12.5,
        "net_kg": 11.0,
    }
    return OrderLine(sku=sku, **{**base, **values})


def acme_order(lines: list[OrderLine] | None = None) -> tuple[Order, Client]:
    order = Order(
        number="PO-2026-0117",
        pi_number="PI-2026-0117",
        incoterm="FOB Xiamen",
        spare_ratio=0.03,
        port_of_loading="Xiamen, China",
        port_of_discharge="Hamburg, Germany",
        payment_terms="T/T 30 days after B/L",
        lines=lines or [line("BP-220"), line("TB-105", quantity=500, cartons=10, net_kg=10.0, gross_kg=11.0)],
    )
    client = Client(
        key="acme",
        name="Acme Bags GmbH",
        address="Hafenstrasse 12, 20457 Hamburg, Germany",
        consignee="Acme Logistics, Am Lagerhaus 5, 28197 Bremen",
    )
    return order, client


def chinese_order() -> tuple[Order, Client]:
    order = Order(
        number="HL-2026-0032",
        incoterm="CIF Shanghai",
        spare_ratio=0.0,
        port_of_loading="厦门",
        port_of_discharge="上海",
        payment_terms="T/T 30 天",
        lines=[
            line(
                "TR-24",
                description="24寸拉杆箱 铝框",
                material="PC 外壳，铝合金框架",
                packaging="无纺布袋，每箱 2 个",
                quantity=300,
                cartons=150,
                currency="CNY",
                unit_price=Decimal("145"),
            )
        ],
    )
    return order, Client(key="hailang", name="海浪箱包贸易有限公司", address="上海市浦东新区张杨路 500 号")


def render(kind: str, order: Order, client: Client, fonts: DocumentFonts, seller: Seller = SELLER) -> bytes:
    return pdf.render(kind, order, client, seller=seller, fonts=fonts, today=TODAY)


@pytest.mark.parametrize("kind", pdf.KINDS)
@pytest.mark.parametrize("make", [acme_order, chinese_order], ids=["latin", "chinese"])
def test_every_font_a_document_draws_with_is_embedded(kind: str, make: object, fonts: DocumentFonts) -> None:
    order, client = make()  # type: ignore[operator]
    found = pdf_fonts(render(kind, order, client, fonts))
    assert found, "a document with text has fonts"
    assert [f for f in found if not f.acceptable] == []
    assert any("WenQuanYi" in f.name or "UMing" in f.name or "ZenHei" in f.name for f in found)
    assert all(f.embedded for f in found)  # not even a standard-14 one: pdffonts says "yes" to each


def test_the_font_check_catches_a_referenced_cid_font() -> None:
    """The old documents' STSong-Light (named, never embedded) fails the same check: it can."""
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    canvas = Canvas(buf)
    canvas.setFont("STSong-Light", 12)
    canvas.drawString(72, 720, "装箱单")
    canvas.save()
    [font] = [f for f in pdf_fonts(buf.getvalue()) if "STSong" in f.name]
    assert not font.embedded and not font.acceptable


def test_chinese_text_reads_back_from_every_document(fonts: DocumentFonts) -> None:
    order, client = chinese_order()
    texts = {kind: pdf_text(render(kind, order, client, fonts)) for kind in pdf.KINDS}
    for kind, text in texts.items():
        flat = " ".join(text.split())
        assert "海浪箱包贸易有限公司 上海市浦东新区张杨路 500 号" in flat, kind
        assert "24寸拉杆箱 铝框" in text, kind
    assert "PC 外壳，铝合金框架" in texts["invoice"] and "无纺布袋，每箱 2 个" in texts["packing_list"]
    invoice = " ".join(texts["invoice"].split())
    assert "装运港 厦门" in invoice and "卸货港 上海" in invoice and "付款方式 T/T 30 天" in invoice


def test_the_commercial_invoice_carries_what_customs_asks_for(fonts: DocumentFonts) -> None:
    order, client = acme_order()
    text = pdf_text(render("invoice", order, client, fonts))
    assert "Commercial Invoice" in text
    assert "Invoice No. / 发票号\nINV-PO-2026-0117\nDate / 日期\n2026-12-01" in text
    flat = " ".join(text.split())  # a cell wraps where its column ends
    # seller, from the settings passed in: name, address, tax id, contact
    for value in (SELLER.name, SELLER.address, "Tax ID / 税号: 91350205TEST00042X", SELLER.contact):
        assert value in flat
    # buyer and consignee with their addresses, from the client record
    assert "Acme Bags GmbH Hafenstrasse 12, 20457 Hamburg, Germany" in flat
    assert "Acme Logistics, Am Lagerhaus 5, 28197 Bremen" in flat
    assert "Port of loading / 装运港 Xiamen, China" in flat
    assert "Port of discharge / 卸货港 Hamburg, Germany" in flat
    assert "Payment terms / 付款方式 T/T 30 days after B/L" in flat and "FOB Xiamen" in flat
    assert "Currency / 币种 USD" in flat and "Country of origin / 原产国 CN" in flat
    # per line: HS code, origin, quantity, unit price, value, currency; spares at no charge
    assert "4202.92\nCN\n2,000\n8.50\n17,000.00\nUSD" in text
    assert "4202.92\nCN\n500\n8.50\n4,250.00\nUSD" in text
    assert "4202.92\nCN\n60\n0.00\n0.00\nUSD" in text
    assert "Total amount / 总金额: USD 21,250.00" in text
    # the consignment: marks and numbers, packages (100 + 3 + 10 + 1), net and gross weight
    assert "PO-2026-0117\nC/NO. 1-114\nMADE IN CHINA\n114 cartons\n1,236.00 kg\n1,401.50 kg" in text
    assert "We hereby certify that this invoice shows the actual price" in text
    assert "For and on behalf of / 代表: Xiamen Lucky Star Luggage Co., Ltd." in text
    assert "Authorised signature / 授权签字" in text and "Company stamp / 公司盖章" in text


def test_seller_comes_from_config_not_from_code(fonts: DocumentFonts) -> None:
    order, client = acme_order()
    docs = DocumentsSettings(seller_name="Quanzhou Bags Ltd.", seller_address="1 Harbour Rd, Quanzhou")
    text = pdf_text(render("invoice", order, client, fonts, seller=Seller.from_settings(docs)))
    assert "Quanzhou Bags Ltd. 1 Harbour Rd, Quanzhou" in " ".join(text.split())
    for kind in pdf.KINDS:  # nothing of a seller is left in the code
        text = pdf_text(render(kind, order, client, fonts, seller=Seller()))
        assert "Aftersales" not in text and "Lucky Star" not in text and "Xiamen, Fujian" not in text


def test_without_a_consignee_the_buyer_receives(fonts: DocumentFonts) -> None:
    order, client = acme_order()
    client.consignee = None
    assert "Consignee / 收货人" in (text := pdf_text(render("invoice", order, client, fonts)))
    assert "Same as buyer / 同买方" in text


def test_packing_list_numbers_every_carton(fonts: DocumentFonts) -> None:
    order, client = acme_order(
        [
            line("BP-220"),
            line("TB-105", quantity=1001, cartons=10, net_kg=10.0, gross_kg=11.0, carton_cm=[50, 40, 30]),
        ]
    )
    text = pdf_text(render("packing_list", order, client, fonts))
    # per line: carton range, pieces, cartons, size, N.W., G.W.
    assert "1-100\nBP-220\nLaptop backpack 15.6in\npolybag, 20 pcs per carton\n2,000\n100\n60×40×40" in text
    assert "101-103\nBP-220" in text  # 60 spares, 20 a carton
    assert "104-113\nTB-105" in text and "1,001\n10\n50×40×30\n100.00\n110.00" in text
    # 31 spares of TB-105 (ceil 1001 × 3%) at 100.1 a carton: one carton, the 114th
    assert "114\nTB-105" in text
    breakdown = text.split("Carton breakdown / 分箱明细", 1)[1]
    # carton by carton: range, SKU, cartons, pieces each, N.W. and G.W. each, size
    assert "1-100\nBP-220\n100\n20\n11.00\n12.50\n60×40×40" in breakdown
    assert "101-103\nBP-220 (spare / 备品)\n3\n20\n11.00\n12.50" in breakdown
    # 1001 over 10 cartons: one carton of 101, nine of 100 — never "100.1 pcs"
    assert "104\nTB-105\n1\n101\n10.00\n11.00" in breakdown
    assert "105-113\nTB-105\n9\n100\n10.00\n11.00" in breakdown
    # the spare carton holds 31 units: net pro rata 31 × 10.0 / 100.1, gross + 1.0 tare
    assert "114\nTB-105 (spare / 备品)\n1\n31\n3.10\n4.10" in breakdown
    assert "C/NO. 1-114" in breakdown and "114 cartons" in breakdown


def test_a_long_order_numbers_its_pages(fonts: DocumentFonts) -> None:
    order, client = acme_order([line(f"SKU-{i:03}", quantity=100, cartons=5) for i in range(30)])
    order.spare_ratio = 0.0
    for kind in pdf.KINDS:
        pages = page_texts(render(kind, order, client, fonts))
        assert len(pages) >= 2, kind
        for number, text in enumerate(pages, 1):
            assert f"PO-2026-0117 · {pdf.TITLES[kind]} · Page {number} of {len(pages)}" in text, kind
    invoice = page_texts(render("invoice", order, client, fonts))
    assert len(invoice) == 2 and "Page 1 of 2" in invoice[0] and "Page 2 of 2" in invoice[1]
    packing = page_texts(render("packing_list", order, client, fonts))
    assert "C/No. / 箱号" in packing[1]  # a table that runs on repeats its header


def test_a_one_page_document_has_no_page_number(fonts: DocumentFonts) -> None:
    order, client = acme_order()
    [page] = page_texts(render("origin", order, client, fonts))
    assert "Page " not in page
