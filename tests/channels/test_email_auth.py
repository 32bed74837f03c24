"""Who sent a mail (channels/email_auth.py): the parsed From address and the trusted server's verdict.

Examples from real attacks first, then hypothesis properties over arbitrary and generated headers.
The end-to-end consequences (what a forger gets through the IMAP path) are in test_email_trust.py.
"""

from __future__ import annotations

import email
import string
from email import policy
from email.message import EmailMessage

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from channels.email_auth import from_mailboxes, sender_auth, verify_sender

MX = "mx.factory.example"
DOMAIN = "factory.example"


def parse(raw: str | bytes) -> EmailMessage:
    data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
    msg = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def authenticated(*headers: str, domain: str = DOMAIN, trusted: str = MX) -> bool:
    return verify_sender(list(headers), domain, trusted).authenticated


# ---- examples ------------------------------------------------------------------------------------


def test_dmarc_pass_from_the_trusted_server_for_the_from_domain_authenticates() -> None:
    assert authenticated(f"{MX}; dkim=pass header.d={DOMAIN}; spf=pass; dmarc=pass header.from={DOMAIN}")
    assert authenticated(f"{MX}; dmarc=pass")  # header.from is optional
    assert authenticated("MX.Factory.Example 1; DMARC=Pass (p=reject dis=none) header.from=Factory.Example")
    assert authenticated(f"{MX};\r\n\tdmarc=pass\r\n\theader.from={DOMAIN}")  # folded as on the wire


def test_dmarc_inside_another_methods_property_is_not_a_verdict() -> None:
    forged = f"{MX}; spf=pass smtp.mailfrom=dmarc=pass@evil.example; dmarc=fail"
    verdict = verify_sender([forged], DOMAIN, MX)
    assert not verdict.authenticated and verdict.reason == "dmarc=fail"
    assert not authenticated(f"{MX}; spf=pass smtp.mailfrom=dmarc=pass@evil.example")


def test_other_servers_headers_are_ignored() -> None:
    assert not authenticated(f"evil.example; dmarc=pass header.from={DOMAIN}")
    assert not authenticated(f"mx.factory.example.evil.example; dmarc=pass header.from={DOMAIN}")
    assert not authenticated(f"{DOMAIN}; dmarc=pass header.from={DOMAIN}")
    # ...and do not stand in the way of ours
    assert authenticated(f"evil.example; dmarc=fail header.from={DOMAIN}", f"{MX}; dmarc=pass")


def test_no_header_or_no_trusted_server_authenticates_nobody() -> None:
    assert not authenticated()
    assert verify_sender([f"{MX}; dmarc=pass"], DOMAIN, "").reason == "no trusted authserv-id configured"
    assert not authenticated(f"{MX}; dmarc=pass", domain="")


def test_unaligned_spf_or_dkim_pass_is_not_enough() -> None:
    assert not authenticated(f"{MX}; dkim=pass header.d=evil.example; spf=pass smtp.mailfrom=evil.example")
    assert not authenticated(f"{MX}; dkim=pass header.d={DOMAIN}; spf=pass smtp.mailfrom={DOMAIN}")
    assert not authenticated(f"{MX}; dmarc=none header.from={DOMAIN}")


def test_dmarc_pass_for_another_domain_does_not_count() -> None:
    assert not authenticated(f"{MX}; dmarc=pass header.from=evil.example")
    assert not authenticated(f"{MX}; dmarc=pass header.from=evil.example; dmarc=fail header.from={DOMAIN}")
    assert authenticated(f"{MX}; dmarc=fail header.from=evil.example; dmarc=pass header.from={DOMAIN}")


def test_only_the_topmost_header_of_the_trusted_server_counts() -> None:
    """Our server prepends its header; a copy with its name lower down came with the message."""
    genuine_fail, forged_pass = f"{MX}; dmarc=fail header.from={DOMAIN}", f"{MX}; dmarc=pass"
    assert not authenticated(genuine_fail, forged_pass)
    assert authenticated(forged_pass, genuine_fail)
    # a trusted header we cannot parse is a refusal, not a reason to read the one below it
    verdict = verify_sender([f"{MX} (broken; dmarc", forged_pass], DOMAIN, MX)
    assert not verdict.authenticated and "unparseable" in verdict.reason


def test_the_address_comes_from_the_parsed_header_not_a_decoded_display_name() -> None:
    trick = parse(
        "From: =?utf-8?q?anna=40factory.example?= <attacker@evil.example>\r\n"
        f"Authentication-Results: {MX}; dmarc=pass header.from=evil.example\r\n\r\nx"
    )
    [mailbox] = from_mailboxes(trick)
    assert mailbox.address == "attacker@evil.example" and mailbox.name == "anna@factory.example"
    # authenticated, but as the attacker's own domain, which no staff member or client has
    assert sender_auth(trick, MX).authenticated
    only_name = parse(
        f"From: =?utf-8?q?anna=40factory.example?=\r\nAuthentication-Results: {MX}; dmarc=pass\r\n\r\nx"
    )
    assert from_mailboxes(only_name) == [] and not sender_auth(only_name, MX).authenticated


def test_several_or_malformed_from_addresses_are_never_authenticated() -> None:
    for head in (
        "From: Anna <anna@factory.example>, Eve <eve@evil.example>\r\n",
        "From: anna@factory.example\r\nFrom: eve@evil.example\r\n",
        "From: anna@factory.example <eve@evil.example>\r\n",  # parsed as anna, checked as evil.example?
        "From: Anna <anna@factory.example\r\n",
    ):
        msg = parse(head + f"Authentication-Results: {MX}; dmarc=pass header.from={DOMAIN}\r\n\r\nx")
        assert not sender_auth(msg, MX).authenticated


def test_ordinary_from_headers_are_not_malformed() -> None:
    for head in (
        "From: Anna Schmidt <anna@factory.example>",
        "From: J. Smith <anna@factory.example>",
        'From: "Schmidt, Anna" <anna@factory.example> (Sales)',
        "From: =?gb2312?B?suG5ug==?= <anna@factory.example>",
        "From: anna@factory.example",
    ):
        msg = parse(head + f"\r\nAuthentication-Results: {MX}; dmarc=pass header.from={DOMAIN}\r\n\r\nx")
        assert sender_auth(msg, MX).authenticated, head
    raw8bit = b"From: \xb2\xc9\xb9\xba <anna@factory.example>\r\nAuthentication-Results: " + MX.encode()
    assert sender_auth(parse(raw8bit + b"; dmarc=pass\r\n\r\nx"), MX).authenticated  # raw GBK name


# ---- properties ----------------------------------------------------------------------------------

LABEL = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=8)
DOMAINS = st.lists(LABEL, min_size=2, max_size=3).map(".".join)
METHODS = st.sampled_from(["dmarc", "dkim", "spf", "arc", "auth", "iprev"])
RESULTS = st.sampled_from(["pass", "fail", "none", "softfail", "neutral", "temperror", "permerror", "policy"])
LENIENT = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def resinfo(draw: st.DrawFn, domain: str) -> tuple[str, str, str | None]:
    """(method, result, header.from or None): header.from is the From domain, another, or absent."""
    header_from = draw(st.one_of(st.none(), st.just(domain), DOMAINS))
    return draw(METHODS), draw(RESULTS), header_from


def render(authserv_id: str, infos: list[tuple[str, str, str | None]]) -> str:
    if not infos:
        return f"{authserv_id}; none"
    parts = [f"{m}={r}" + (f" header.from={h}" if h is not None else "") for m, r, h in infos]
    return f"{authserv_id}; " + "; ".join(parts)


@LENIENT
@given(st.lists(st.text(max_size=300), max_size=4), st.text(max_size=40), st.text(max_size=40))
@example([f"{MX}; dmarc=pass ((("], DOMAIN, MX)
@example(["\x00;=.\r\n(\\"], DOMAIN, MX)
def test_never_raises_on_arbitrary_text(headers: list[str], domain: str, trusted: str) -> None:
    verdict = verify_sender(headers, domain, trusted)
    assert isinstance(verdict.authenticated, bool) and verdict.reason
    if not trusted.strip():
        assert not verdict.authenticated


@LENIENT
@given(st.binary(max_size=400))
def test_parsing_a_whole_arbitrary_message_never_raises(raw: bytes) -> None:
    msg = parse(b"From: " + raw + b"\r\nAuthentication-Results: " + raw + b"\r\n\r\nx")
    assert isinstance(sender_auth(msg, MX).authenticated, bool)


@LENIENT
@given(st.data(), DOMAINS, st.lists(DOMAINS, min_size=1, max_size=4))
def test_headers_from_other_servers_never_authenticate(
    data: st.DataObject, domain: str, others: list[str]
) -> None:
    infos = st.lists(resinfo(domain), max_size=4)
    headers = [render(other, data.draw(infos)) for other in others if other != MX]
    # even one that says exactly what our server would say
    headers.append(f"{others[0]}.evil; dmarc=pass header.from={domain}")
    assert not verify_sender(headers, domain, MX).authenticated


@LENIENT
@given(st.data(), DOMAINS, st.lists(st.tuples(st.booleans(), st.integers(0, 4)), min_size=0, max_size=4))
def test_pass_exactly_when_the_topmost_trusted_header_says_dmarc_pass_for_the_from_domain(
    data: st.DataObject, domain: str, shape: list[tuple[bool, int]]
) -> None:
    headers: list[str] = []
    expected: bool | None = None
    for is_trusted, count in shape:
        infos = data.draw(st.lists(resinfo(domain), min_size=count, max_size=count))
        authserv_id = data.draw(st.sampled_from([MX, MX.upper()])) if is_trusted else data.draw(DOMAINS)
        if is_trusted and expected is None:
            about_us = [r for m, r, h in infos if m == "dmarc" and h in (None, domain)]
            expected = bool(about_us) and all(r == "pass" for r in about_us)
        headers.append(render(authserv_id, infos))
    assert verify_sender(headers, domain, MX).authenticated is bool(expected)


@LENIENT
@given(DOMAINS, LABEL, DOMAINS)
def test_an_address_in_the_display_name_is_never_the_sender(domain: str, local: str, real: str) -> None:
    shown = f"{local}@{domain}"
    encoded = "".join(f"={b:02X}" for b in shown.encode())
    msg = parse(f"From: =?utf-8?q?{encoded}?= <attacker@{real}>\r\n\r\nx")
    assert [m.address for m in from_mailboxes(msg)] == [f"attacker@{real}"]
