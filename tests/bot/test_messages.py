from datetime import UTC, datetime

from bot.messages import (
    Attachment,
    AttachmentKind,
    Button,
    Channel,
    InboundMessage,
    OutboundMessage,
    detect_language,
)


def test_language_from_text_or_fallback() -> None:
    assert detect_language("拉链坏了") == "zh"
    assert detect_language("ＰＯ－２０２６") == "zh"  # full-width forms come from a Chinese keyboard
    assert detect_language("the strap is torn") == "en"
    assert detect_language("PO-2026-0117", fallback="zh") == "zh"
    assert detect_language("12", fallback=None) == "en"


def test_json_round_trips() -> None:
    inbound = InboundMessage(
        Channel.TELEGRAM,
        "42",
        "7",
        text="hi",
        attachments=[Attachment(AttachmentKind.PHOTO, "image/jpeg", "f1")],
        received_at=datetime(2026, 1, 2, tzinfo=UTC),
        media_group_id="g",
        extra={"message_id": 3},
    )
    assert InboundMessage.from_json(inbound.to_json()) == inbound
    out = OutboundMessage(
        Channel.EMAIL, "a@b.example", "x", buttons=[Button("Yes", "y")], idempotency_key="k"
    )
    assert OutboundMessage.from_json(out.to_json()) == out
