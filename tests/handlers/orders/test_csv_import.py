"""`aftersales orders import FILE.csv`: every row checked first, all-or-nothing per order, reasons printed."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.ids import order_key
from bot.tools.cli import main
from bot.tools.demo import seed
from storage.db import Database
from storage.models import Order, OutboxRow
from storage.repos import orders

COLUMNS = [
    "number", "client", "status", "pi_number", "incoterm", "eta", "carrier", "tracking", "spare_ratio",
    "sku", "description", "material", "quantity", "unit_price", "currency", "hs_code", "origin",
    "packaging", "cartons", "carton_cm", "gross_kg", "net_kg",
]  # fmt: skip


def row(number: str, sku: str, **changes: Any) -> dict[str, Any]:
    base = {
        "number": number, "client": "acme", "status": "confirmed", "pi_number": "PI-" + number,
        "incoterm": "FOB Xiamen", "eta": "2027-02-01", "carrier": "", "tracking": "", "spare_ratio": "0.03",
        "sku": sku, "description": "Backpack " + sku, "material": "600D polyester", "quantity": "1000",
        "unit_price": "9.90", "currency": "USD", "hs_code": "4202.92", "origin": "CN",
        "packaging": "polybag, 20 pcs per carton", "cartons": "50", "carton_cm": "60x40x40",
        "gross_kg": "12.5", "net_kg": "11.0",
    }  # fmt: skip
    base.update(changes)
    return base


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def seeded(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("AFTERSALES_DATABASE__URL", db_url)
    monkeypatch.setenv("AFTERSALES_MEDIA__DIR", str(tmp_path / "media"))

    async def go() -> None:
        db = Database(db_url)
        await seed(db)
        await db.dispose()

    asyncio.run(go())
    return db_url


def stored(db_url: str) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        db = Database(db_url)
        out: dict[str, Any] = {}
        async with db.read() as s:
            for o in (await s.execute(select(Order))).scalars():
                full = await orders.by_key(s, order_key(o.number))
                assert full is not None
                out[o.number] = full
            out["_notices"] = (
                await s.execute(select(func.count()).select_from(OutboxRow).where(OutboxRow.kind == "notice"))
            ).scalar_one()
        await db.dispose()
        return out

    return asyncio.run(go())


def test_good_and_bad_rows(seeded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(
        tmp_path / "orders.csv",
        [
            row("PO-2027-0001", "BP-220"),  # row 2
            row("PO-2027-0001", "TB-105", quantity="500", hs_code="4202.22"),  # row 3
            row("PO-2027-0002", "BP-220"),  # row 4: its order is rejected by row 5
            row("PO-2027-0002", "TB-105", spare_ratio="0.051"),  # row 5
            row("PO-2027-0003", "BP-220", client="globex"),  # row 6
            row("PO-2027-0004", "BP-220", status="sailing"),  # row 7
            row("PO-2027-0005", "BP-220", quantity="-10"),  # row 8
            row("PO-2027-0006", "BP-220", hs_code="42.02.92X"),  # row 9
            row("PO-2027-0007", "BP-220", spare_ratio="0.019"),  # row 10
            row("PO-2027-0008", "BP-220", spare_ratio="0.02", quantity="1001"),  # row 11: at the bound
            row("PO-2027-0009", "BP-220", spare_ratio="0.05"),  # row 12: at the bound
        ],
    )
    code = main(["orders", "import", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "accepted row 2: PO-2027-0001 BP-220" in out and "accepted row 3: PO-2027-0001 TB-105" in out
    assert "rejected row 4: PO-2027-0002 BP-220: not written: another row of this order was rejected" in out
    assert "rejected row 5: PO-2027-0002 TB-105: spare_ratio" in out and "0.051" in out
    assert "rejected row 6: PO-2027-0003 BP-220: unknown client 'globex'" in out
    assert "rejected row 7: PO-2027-0004 BP-220: status" in out
    assert "rejected row 8: PO-2027-0005 BP-220: quantity: must not be negative" in out
    assert "rejected row 9: PO-2027-0006 BP-220: hs_code" in out
    assert "rejected row 10: PO-2027-0007 BP-220: spare_ratio" in out
    assert "accepted row 11" in out and "accepted row 12" in out
    assert "4 row(s) accepted (3 order(s) written), 7 row(s) rejected" in out
    db = stored(seeded)
    assert {n for n in db if n.startswith("PO-2027")} == {"PO-2027-0001", "PO-2027-0008", "PO-2027-0009"}
    first = db["PO-2027-0001"]
    assert [(ln.sku, ln.quantity, ln.hs_code) for ln in first.lines] == [
        ("BP-220", 1000, "4202.92"),
        ("TB-105", 500, "4202.22"),
    ]
    assert first.lines[0].carton_cm == [60, 40, 40] and first.spare_ratio == 0.03
    assert db["PO-2027-0008"].spare_ratio == 0.02 and db["PO-2027-0009"].spare_ratio == 0.05


def test_all_good_file_exits_zero_and_updates_send_notices(
    seeded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "a.csv", [row("PO-2027-0100", "BP-220")])
    assert main(["orders", "import", str(path)]) == 0
    assert "1 row(s) accepted (1 order(s) written), 0 row(s) rejected" in capsys.readouterr().out
    # the same order again, now shipped: an update with an event and a notice per acme contact
    path = write_csv(
        tmp_path / "b.csv",
        [row("PO-2027-0100", "BP-220", status="shipped", carrier="Maersk", tracking="MSKU0000001")],
    )
    assert main(["orders", "import", str(path)]) == 0
    db = stored(seeded)
    order = db["PO-2027-0100"]
    assert order.status == "shipped" and order.tracking == "MSKU0000001" and len(order.lines) == 1
    assert [e.to_value for e in order.events if e.kind == "status"] == ["confirmed", "shipped"]
    assert db["_notices"] == 4


def test_missing_file_and_missing_columns(
    seeded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["orders", "import", str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("number,client\nPO-1,acme\n")
    assert main(["orders", "import", str(bad)]) == 2
    assert "missing column(s) sku, quantity" in capsys.readouterr().err
