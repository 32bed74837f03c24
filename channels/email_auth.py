"""Who really sent a mail: the From address, and whether our receiving server vouches for it.

`From` is whatever the sender typed. The only evidence is an Authentication-Results header
(RFC 8601) written by the server that received the mail for us, named by
`email.trusted_authserv_id`; every other such header arrived with the message or was added by
a hop we do not run, so it may say anything and is ignored. A sender is *authenticated* only
when that server reports `dmarc=pass` for the From domain: DMARC is the one verdict aligned
with the address people see, whereas an SPF or DKIM pass may be for any domain the sender
owns. With no trusted server configured nobody is authenticated.

Headers are parsed with `authres` (authserv-id first, then each resinfo), never searched with a
pattern: `spf=pass smtp.mailfrom=dmarc=pass@evil.example` is an SPF property, not a DMARC verdict.
Addresses come from the parsed `From` header (`email.headerregistry`), so an encoded-word display
name that decodes to an address never stands in for the real one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import errors
from email.message import EmailMessage
from typing import Any

import authres  # no type information shipped (ignored in pyproject)


@dataclass(frozen=True)
class Mailbox:
    """One address of the From header: the addr-spec and its domain (lower-cased), the display name."""

    address: str
    domain: str
    name: str


@dataclass(frozen=True)
class SenderAuth:
    """The verdict on one mail's sender, with the trusted server's results kept for the audit log."""

    authenticated: bool
    reason: str
    authserv_id: str | None = None
    results: dict[str, str] = field(default_factory=dict)  # method → first result of the trusted header

    def to_json(self) -> dict[str, str | bool]:
        data: dict[str, str | bool] = {"authenticated": self.authenticated, "reason": self.reason}
        if self.authserv_id is not None:
            data["authserv_id"] = self.authserv_id
        data.update(self.results)
        return data


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().rstrip(".").lower() if "@" in address else ""


def from_mailboxes(msg: EmailMessage) -> list[Mailbox]:
    """Every address of every From header, in order, read by the structured header parser.

    The standard library's parser raises on a few hostile inputs; such a header yields no
    address (the mail is then not answerable and never authenticated) rather than an exception.
    """
    found: list[Mailbox] = []
    try:
        headers = msg.get_all("From") or []
        for header in headers:
            for addr in getattr(header, "addresses", ()):
                # The parser's own domain, never a split of the text: '"a@b.example"' has none.
                domain = str(addr.domain or "").strip().rstrip(".").lower()
                if domain and str(addr.username or ""):
                    spec = str(addr.addr_spec).strip().lower()
                    found.append(Mailbox(spec, domain, str(addr.display_name or "")))
    except Exception:
        return []
    return found


def from_is_malformed(msg: EmailMessage) -> bool:
    """Whether a From header is broken in a way parsers disagree on.

    `li@factory.example <attacker@evil.example>` (an address as an unquoted display name) reads
    as Li here, while the receiving server may well have checked evil.example: such a header is
    never authenticated, whatever the verdict says.
    """
    try:
        for header in msg.get_all("From") or []:
            for defect in getattr(header, "defects", ()):
                if isinstance(defect, errors.InvalidHeaderDefect | errors.HeaderMissingRequiredValue):
                    return True
    except Exception:
        return True
    return False


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]*", " ", value).strip()


def _loose_authserv_id(value: str) -> str:
    """The first word before ';' with comments removed: only to recognise a header we cannot parse."""
    head = re.sub(r"\([^()]*\)", " ", value.partition(";")[0])
    words = head.split()
    return words[0].strip('"').lower() if words else ""


def _header_from(result: Any) -> str | None:
    for prop in result.properties:
        if str(prop.type).lower() == "header" and str(prop.name).lower() == "from":
            value = str(prop.value).strip().strip('"').lower()
            return domain_of(value) if "@" in value else value.rstrip(".")
    return None


def _judge(authserv_id: str, results: list[Any], domain: str) -> SenderAuth:
    methods: dict[str, str] = {}
    for result in results:
        methods.setdefault(str(result.method).lower(), str(result.result).lower())
    dmarc = [
        str(r.result).lower()
        for r in results
        if str(r.method).lower() == "dmarc" and _header_from(r) in (None, domain)
    ]
    if not dmarc:
        reason = "no dmarc result for the From domain"
    elif any(verdict != "pass" for verdict in dmarc):
        reason = "dmarc=" + next(v for v in dmarc if v != "pass")
    else:
        return SenderAuth(True, "dmarc=pass", authserv_id, methods)
    return SenderAuth(False, reason, authserv_id, methods)


def verify_sender(headers: Iterable[str], from_domain: str, trusted_authserv_id: str) -> SenderAuth:
    """Authenticated only if the topmost header of the trusted server says dmarc=pass for `from_domain`.

    `headers` are the Authentication-Results values in message order (topmost first: each
    server prepends its own). Only the topmost trusted one counts, since a copy lower down
    could have come with the message; one that claims the trusted id but cannot be parsed
    ends the search with a refusal instead of letting a lower copy speak for it.
    """
    trusted = trusted_authserv_id.strip().lower()
    domain = from_domain.strip().rstrip(".").lower()
    if not trusted:
        return SenderAuth(False, "no trusted authserv-id configured")
    if not domain:
        return SenderAuth(False, "no From domain")
    for raw in headers:
        value = _unfold(str(raw))
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(value)
        except (authres.AuthResError, ValueError, IndexError, TypeError, AttributeError):
            if _loose_authserv_id(value) == trusted:
                return SenderAuth(False, "trusted server's Authentication-Results unparseable", trusted)
            continue
        authserv_id = str(parsed.authserv_id or "").strip().lower()
        if authserv_id != trusted:
            continue
        return _judge(authserv_id, list(parsed.results), domain)
    return SenderAuth(False, "no Authentication-Results from the trusted server")


def authentication_headers(msg: EmailMessage) -> list[str]:
    """The Authentication-Results values as on the wire (not decoded as RFC 2047 text), topmost first."""
    return [str(v) for k, v in msg.raw_items() if k.lower() == "authentication-results"]


def sender_auth(msg: EmailMessage, trusted_authserv_id: str) -> SenderAuth:
    """The verdict for the mail's single From address; a mail with several From addresses has none."""
    mailboxes = from_mailboxes(msg)
    if len(mailboxes) != 1:
        return SenderAuth(False, "not exactly one From address")
    if from_is_malformed(msg):
        return SenderAuth(False, "malformed From header")
    return verify_sender(authentication_headers(msg), mailboxes[0].domain, trusted_authserv_id)
