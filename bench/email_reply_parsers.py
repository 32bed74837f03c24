"""Which quote trimmer is more often right: ours (channels/email_quotes.py) or `mail-parser-reply`.

Run with `mail-parser-reply` installed (it is not a dependency: this is how the choice was
made, and how to remake it when either side changes):

    PYTHONPATH=$PWD .venv/bin/python bench/email_reply_parsers.py

Three labelled sets: the multi-language cases of tests/channels/test_email_quotes.py (Outlook
zh-CN/zh-TW/EN/DE separators and header blocks, Gmail/Apple/QQ attributions, interleaved
answers, signatures), and the shapes of mailgun/talon's standard replies in the email corpus
(rewritten in our words), whose reply is "Noted" in every one (signatures counted as not part of
the reply, as intent detection needs). The third set keeps the shapes of mail-parser-reply's own
fixtures, in our words.
Each body is what our MIME reading hands the trimmer; a result is right when it equals the
label up to whitespace. On the whole corpus (no labels) it also counts the bodies each trimmer
empties entirely and those where it leaves `>` quotes in.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from channels.email_mime import parse_mail  # noqa: E402
from channels.email_quotes import trim_quoted  # noqa: E402
from tests.channels.test_email_quotes import REPLY_CASES, same  # noqa: E402

# The shapes of mail-parser-reply's own fixtures, in our words, with the first reply its tests assert
# (bench/data/mail-parser-reply/).
THEIRS = {
    "email_headers_no_delimiter": "And one more answer!",
    "email_sent_from_iPhone": "Here is our reply",
    "email_sent_from_multi_word_mobile_device": "Here is our reply",
    "email_sent_from_BlackBerry": "Here is our reply",
    "email_sent_from_not_signature": (
        "Here is our reply\n\nSent from my office, it is much quicker than my tablet."
    ),
    "email_2_1": "Outlook with our answer\n\n\n------------------------------",
    "email_2_3": "Outlook with our answer above headers using unusual format",
}


def labelled() -> dict[str, list[tuple[str, str, str]]]:
    talon = [
        (path.name, parse_mail(path.read_bytes()).full_text, "Noted")
        for path in sorted((ROOT / "tests/corpus/email").glob("talon__standard_replies__*.eml"))
    ]
    data = ROOT / "bench/data/mail-parser-reply"
    theirs = [(name, (data / f"{name}.txt").read_text(), want) for name, want in THEIRS.items()]
    return {"ours (multi-language, interleaved)": list(REPLY_CASES), "talon standard replies": talon,
            "mail-parser-reply's own": theirs}  # fmt: skip


def theirs() -> Callable[[str], str]:
    from mailparser_reply import EmailReplyParser  # type: ignore[import-not-found]

    parser = EmailReplyParser(languages=["en", "zh", "de", "fr"])

    def first_reply_body(text: str) -> str:  # the newest reply without its signature, as its tests read it
        replies = parser.read(text).replies
        return str(replies[0].body) if replies else ""

    return first_reply_body


def main() -> None:
    sets = labelled()
    bodies = [
        (path.name, parse_mail(path.read_bytes()).full_text)
        for path in sorted((ROOT / "tests/corpus/email").glob("*.eml"))
    ]
    parsers = {"hand-written (channels/email_quotes.py)": trim_quoted, "mail-parser-reply": theirs()}
    for label, trim in parsers.items():
        total = right = 0
        for set_name, cases in sets.items():
            wrong = [name for name, body, want in cases if not same(trim(body), want)]
            total, right = total + len(cases), right + len(cases) - len(wrong)
            print(
                f"{label} / {set_name}: {len(cases) - len(wrong)}/{len(cases)}; "
                f"wrong: {', '.join(wrong) or '-'}"
            )
        print(f"{label}: {right}/{total} right ({right / total:.0%})")
        emptied = [name for name, text in bodies if text.strip() and not trim(text).strip()]
        quoted = [name for name, text in bodies if any(x.startswith(">") for x in trim(text).splitlines())]
        print(f"{label} / whole email corpus ({len(bodies)} bodies): emptied {len(emptied)}, "
              f"quoted lines left in {len(quoted)}\n")  # fmt: skip


if __name__ == "__main__":
    main()
