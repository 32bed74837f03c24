"""The documents' fonts: found at start-up, or `serve` stops naming the key; never boxes at a broker's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import ConfigError, DocumentsSettings, load_settings
from handlers.orders import pdf
from handlers.orders.documents import Documents
from handlers.orders.fonts import KNOWN_CJK, KNOWN_LATIN, load_fonts
from tests.fakes.orders import pdf_text
from tests.fakes.pdf import pdf_fonts
from tests.handlers.orders.test_pdf_render import SELLER, chinese_order

ROOT = Path(__file__).resolve().parents[3]
DEJAVU = next((p for p in KNOWN_LATIN if Path(p).is_file()), "")
SYSTEM_CJK = next(((p, i) for p, i in KNOWN_CJK if Path(p).is_file()), ("", 0))


def test_a_configured_font_file_that_does_not_exist_stops_loading_the_settings(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[documents]\ncjk_font = "{tmp_path}/NotoSansSC-Regular.ttf"\n')
    with pytest.raises(
        ConfigError, match=r"documents\.cjk_font: no such font file: .*NotoSansSC-Regular\.ttf"
    ):
        load_settings(cfg, env={})
    cfg.write_text(f'[documents]\ncjk_font = "{SYSTEM_CJK[0]}"\nseller_name = "X Ltd."\n')
    assert load_settings(cfg, env={}).documents.seller_name == "X Ltd."  # the positive control


def test_no_cjk_font_on_the_system_and_none_configured_is_an_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_fonts(DocumentsSettings(), known_cjk=[(str(tmp_path / "wqy-microhei.ttc"), 0)])
    message = str(info.value)
    assert "documents.cjk_font is empty" in message and "fonts-wqy-microhei" in message
    with pytest.raises(ConfigError, match=r"documents\.latin_font is empty"):
        load_fonts(DocumentsSettings(), known_latin=[str(tmp_path / "DejaVuSans.ttf")])


def test_a_font_without_chinese_glyphs_or_no_font_at_all_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"documents\.cjk_font: .*DejaVuSans\.ttf .* has no glyph for"):
        load_fonts(DocumentsSettings(cjk_font=DEJAVU))
    junk = tmp_path / "font.ttf"
    junk.write_bytes(b"not a font at all" * 100)
    with pytest.raises(ConfigError, match=r"documents\.cjk_font: .*font\.ttf is not a TrueType font"):
        load_fonts(DocumentsSettings(cjk_font=str(junk)))


def test_the_configured_face_of_a_collection_is_the_one_embedded(tmp_path: Path) -> None:
    path, _ = SYSTEM_CJK
    if not path.endswith(".ttc"):
        pytest.skip("no .ttc collection among the system's CJK fonts")
    fonts = load_fonts(DocumentsSettings(cjk_font=path, cjk_font_index=1))
    assert fonts.files[0] == path
    order, client = chinese_order()
    data = pdf.render("packing_list", order, client, seller=SELLER, fonts=fonts)
    names = {f.name.split("+", 1)[1] for f in pdf_fonts(data)}
    default = {
        f.name.split("+", 1)[1] for f in pdf_fonts(pdf.render("packing_list", order, client, seller=SELLER))
    }
    assert names != default and all(f.embedded for f in pdf_fonts(data))
    assert "24寸拉杆箱 铝框" in pdf_text(data)


def test_the_documents_handler_loads_its_fonts_when_built(tmp_path: Path) -> None:
    """build_handlers builds it at start-up: a bad font fails there, not at the first invoice."""
    with pytest.raises(ConfigError, match=r"documents\.cjk_font"):
        Documents(tmp_path, DocumentsSettings(cjk_font=DEJAVU))
    handler = Documents(tmp_path, DocumentsSettings(seller_name="Lucky Star", seller_tax_id="T-1"))
    assert handler.seller.name == "Lucky Star" and handler.seller.tax_id == "T-1"


def test_serve_refuses_to_start_without_a_usable_cjk_font(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AFTERSALES_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/a.db",
        "AFTERSALES_MEDIA__DIR": str(tmp_path / "media"),
        "AFTERSALES_DOCUMENTS__CJK_FONT": DEJAVU,  # a real font, without Chinese
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot.tools.cli", "--config", "config/demo.toml", "serve", "--port", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("aftersales: config: documents.cjk_font:") and "has no glyph" in last
