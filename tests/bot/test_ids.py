from bot.ids import candidates, order_key


def test_forms_clients_type_fold_to_one_key() -> None:
    forms = [
        "PO-2026-0117",
        "po 2026 0117",
        "PO20260117",
        "#PO-2026-0117",
        "ＰＯ－２０２６－０１１７",
        "Po_2026_0117",
    ]
    assert {order_key(f) for f in forms} == {"PO20260117"}


def test_candidates_found_in_sentences() -> None:
    assert candidates("where is my order po 2026 0117 please") == ["PO20260117"]
    assert candidates("订单ＰＯ－２０２６－０１１７到哪了") == ["PO20260117"]
    assert candidates("PO-2026-0117 strap torn, goods unused") == ["PO20260117"]
    assert "PO20260117" not in candidates("CLM-2026-000017 status")
    assert candidates("hello there") == []
