import json
import logging

from bot.core.logs import JsonFormatter, RedactSecrets, request_id


def test_secrets_never_reach_the_log_line() -> None:
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "POST https://api.telegram.org/bot%s/sendMessage",
        ("123:SECRET-TOKEN",),
        None,
    )
    RedactSecrets(["123:SECRET-TOKEN"]).filter(record)
    token = request_id.set("req-1")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert "SECRET" not in line["msg"] and "bot***/sendMessage" in line["msg"]
    assert line["request_id"] == "req-1" and line["level"] == "info"


def test_runtime_secrets_rotate_and_url_encodings_are_scrubbed() -> None:
    redact = RedactSecrets(["p@ss/word+1"])
    for token in ("TOKEN-ONE-aaaa", "TOKEN-TWO-bbbb", "TOKEN-THREE-cc"):
        redact.runtime_secret("wechat.access_token", token)
    text = redact.scrub("TOKEN-TWO-bbbb TOKEN-THREE-cc p%40ss%2Fword%2B1 p%40ss%2Fword%2B1 p@ss/word+1")
    assert text == "*** *** *** *** ***"
    assert redact.scrub("TOKEN-ONE-aaaa") == "TOKEN-ONE-aaaa"  # long expired: not kept for ever
