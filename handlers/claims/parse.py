"""Reading a defect report the way clients write it, in English and Chinese.

Pure functions of the text: is this a defect report, does it name a claim, how many
pieces, were the goods used, does it sound like misuse or carrier damage. The policy
excludes used goods, misuse and non-factory shipping damage; those reports are still
recorded, only marked for staff review.
"""

from __future__ import annotations

import re

from bot.ids import claim_number, fold

DEFECT = re.compile(
    r"\b(broken|break|broke|torn|tear|tears|ripped|rip|defect\w*|damaged?|faulty|fault|stain\w*|mou?ld\w*"
    r"|peel\w*|crack\w*|holes?|loose|came off|fell off|falling apart|fad(ed|ing)"
    r"|discolou?r\w*|smell\w*|wrong colou?r|not working|doesn'?t work|quality (issue|problem)s?"
    r"|problem with|issue with)\b"
    r"|质量问题|破了|破损|破洞|坏了|坏掉|损坏|开线|脱线|断了|断裂|裂开|裂了|掉色|褪色|污渍|脏了"
    r"|发霉|霉|瑕疵|次品|残次|有问题|脱胶|起皮|掉漆|变形|异味",
    re.IGNORECASE,
)
CLAIM_REF = re.compile(r"\bCLM[\s\-_]?(\d{4})[\s\-_]?(\d{1,6})\b", re.IGNORECASE)
MORE_EVIDENCE = re.compile(
    r"\b(more|additional|extra|another|new)\s+(photos?|pictures?|pics?|images?|videos?|evidence)\b"
    r"|补充|更多|再发|追加|补发",
    re.IGNORECASE,
)
STATUS = re.compile(r"\b(status|progress|update|where)\b|状态|进度|进展|怎么样|处理得", re.IGNORECASE)
CLAIM_WORD = re.compile(r"\b(claims?|complaints?)\b|索赔|投诉|售后", re.IGNORECASE)
QTY = re.compile(r"(\d{1,6})\s*(pcs|pc|pieces?|units?|bags?|items?|sets?|个|件|只|条|套|包)", re.IGNORECASE)
BARE_NUMBER = re.compile(r"^\s*(\d{1,6})\s*$")
UNUSED = re.compile(
    r"\b(unused|not used|never used|brand new|new condition|still (in|sealed)|unopened|not opened)\b"
    r"|未使用|没用过|没有用过|没有使用|没使用|全新|未拆|没拆|未开封",
    re.IGNORECASE,
)
USED = re.compile(
    r"\b(used (it|them|the|for|a|it for)|after (using|use)|been using|have used|had used|we used|i used"
    r"|in use|wore|worn)\b|用过|使用过|使用后|用了|用坏",
    re.IGNORECASE,
)
YES = re.compile(r"^\s*(y|yes|yep|yeah|correct|right|是|是的|对|对的|没错|嗯)\s*[.!。！]?\s*$", re.IGNORECASE)
NO = re.compile(r"^\s*(n|no|nope|not|否|不是|不|没有)\s*[.!。！]?\s*$", re.IGNORECASE)
MISUSE = re.compile(
    r"\b(dropped|drop it|overload\w*|washed|washing machine|machine wash\w*|ironed|bleach\w*|misus\w*"
    r"|improper\w*|cut (it|them))\b|摔|超重|洗了|机洗|水洗|熨|暴力|使用不当|误用",
    re.IGNORECASE,
)
CARRIER = re.compile(
    r"\b(in transit|during (shipping|shipment|transport|delivery)|shipping damage|damaged (in|during) "
    r"(shipping|transit|delivery)|carrier|courier|forwarder|crushed|wet cartons?|cartons? (was |were )?"
    r"(crushed|wet|broken|damaged))\b|运输|快递|物流|压坏|货代|纸箱破|箱子破|外箱",
    re.IGNORECASE,
)
CANCEL = re.compile(r"^\s*(cancel|stop|never mind|nevermind|取消|算了|不用了)\s*[.!。！]?\s*$", re.IGNORECASE)
UNSURE = re.compile(
    r"\b(not sure|don'?t know|dunno|unknown|no idea|skip)\b|不确定|不知道|不清楚|跳过", re.IGNORECASE
)


def is_defect_report(text: str) -> bool:
    return bool(DEFECT.search(fold(text)))


def claim_refs(text: str) -> list[str]:
    """Claim numbers named in the text, normalised to CLM-YYYY-NNNNNN."""
    refs = []
    for m in CLAIM_REF.finditer(fold(text)):
        ref = claim_number(int(m.group(1)), int(m.group(2)))
        if ref not in refs:
            refs.append(ref)
    return refs


def without_claim_refs(text: str) -> str:
    return CLAIM_REF.sub(" ", fold(text))


def quantity(text: str, *, bare: bool = False) -> int | None:
    """Pieces affected: "5 pcs", "3个"; with `bare`, a lone number is the answer too."""
    folded = fold(text)
    m = QTY.search(folded) or (BARE_NUMBER.match(folded) if bare else None)
    if not m:
        return None
    value = int(m.group(1))
    return value if value > 0 else None


def unused(text: str, *, answer: bool = False) -> bool | None:
    """True (unused), False (used) or None (not said). `answer`: a bare yes/no to "unused?"."""
    folded = fold(text)
    if UNUSED.search(folded):
        return True
    if USED.search(folded):
        return False
    if answer:
        if YES.match(folded):
            return True
        if NO.match(folded):
            return False
    return None


def exclusion(text: str, unused_flag: bool | None) -> str | None:
    """The policy exclusion this report looks like: used, misuse, carrier — or None."""
    folded = fold(text)
    if unused_flag is False:
        return "used"
    if MISUSE.search(folded):
        return "misuse"
    if CARRIER.search(folded):
        return "carrier"
    return None


def category(text: str) -> str | None:
    """A coarse defect category for statistics (stitching, zipper, strap, fabric, ...)."""
    folded = fold(text).lower()
    table = [
        ("zipper", ("zip", "拉链")),
        ("strap", ("strap", "handle", "肩带", "提手", "带子")),
        ("stitching", ("stitch", "seam", "开线", "脱线", "线头")),
        ("fabric", ("torn", "tear", "rip", "hole", "fabric", "破", "布")),
        ("hardware", ("buckle", "wheel", "metal", "扣", "轮", "五金")),
        ("colour", ("fade", "colour", "color", "掉色", "褪色")),
        ("stain", ("stain", "mould", "mold", "污", "霉")),
    ]
    for name, words in table:
        if any(w in folded for w in words):
            return name
    return None


def asks_claim_status(text: str) -> bool:
    """ "What is the status of my claim?" without a number: the client means their latest."""
    folded = fold(text)
    return bool(CLAIM_WORD.search(folded) and STATUS.search(folded))
