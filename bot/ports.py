"""The roles a channel adapter can play, and the plain web values the webhook roles speak.

Kernel module: channels implement these roles, bot.core consumes them, bot.web turns
aiohttp requests into `WebRequest` values and `WebResponse` values back into aiohttp
responses, and bot.app checks once, at wiring time, that every adapter plays the roles
it is configured for. So no adapter needs the web framework to be a webhook, and no
caller has to probe an adapter for optional methods.

Roles are small: an adapter is a `WebhookIngress` or a `PollingIngress` (email), and
usually also a `Sender` and a `MediaFetcher`. A `Sender` declares its `Capabilities`;
the domain always attaches buttons and edits, and the sender degrades what its channel
cannot show (numbered lines for buttons, a new message or nothing for an edit).
The state an adapter keeps between requests (mailbox UIDs, our own outbound ids, the
WeChat replay memory) reaches it through the small state Protocols at the end, which
storage implements: channels never import storage.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from bot.messages import Attachment, Channel, InboundMessage, OutboundMessage


class WebhookRejected(Exception):
    """Raised by verify/parse: the request is answered with `status` and nothing is stored."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# ---- plain web values -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestHead:
    """The request line and headers: all a header-only check may look at, before the body is read.

    `headers` has lower-case names (HTTP names are case-insensitive; use `header()`);
    `raw_path` is the path with its query exactly as requested (signatures cover it);
    `notes` is what an adapter's checks learned for its later steps of the same request
    (the decrypted WeChat XML, a form that is no message): the value is frozen, its
    notebook is not.
    """

    method: str
    path: str
    raw_path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    remote: str | None
    notes: dict[str, Any] = field(default_factory=dict, compare=False)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass(frozen=True, slots=True)
class WebRequest(RequestHead):
    """A request whose body the bounded reader has read (within its size and time)."""

    body: bytes = b""


@dataclass(frozen=True, slots=True)
class WebResponse:
    """What an adapter answers; bot.web writes it. `on_written(ok)` learns whether writing it worked
    (WeChat's passive reply must know whether its answer left, or send through the API instead)."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = None
    on_written: Callable[[bool], None] | None = None

    @classmethod
    def text(cls, text: str, content_type: str = "text/plain", status: int = 200) -> WebResponse:
        return cls(status, text.encode(), content_type)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> WebResponse:
        return cls(status, json.dumps(data).encode(), "application/json")


@dataclass(slots=True)
class ExtraRoute:
    """A route an adapter needs besides its webhook (a status callback, a handshake, an ingest)."""

    method: str
    path: str
    handler: Callable[[WebRequest], Awaitable[WebResponse]]
    # Header-only verification run before the body is read; raises WebhookRejected.
    precheck: Callable[[RequestHead], None] | None = None


# ---- capabilities ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can show; what it cannot, its sender degrades (see channels/degrade.py)."""

    buttons: bool = False  # tappable quick replies; else numbered lines (or dropped, if optional)
    edits: bool = False  # rewriting a message we sent; else its fallback goes as a new message
    max_text: int | None = None  # characters (WeChat: bytes) per message; longer text is split
    media_per_message: int | None = 1  # files one provider message carries (None: any number)
    quotes: bool = False  # a reply can quote the message it answers (`reply_to`)


# ---- roles ----------------------------------------------------------------------------------------


class StoredRef(Protocol):
    """What the inbound writer reports of each message it stored."""

    @property
    def message_id(self) -> int: ...
    @property
    def is_new(self) -> bool: ...


Submit = Callable[[list[InboundMessage]], Awaitable[Sequence[StoredRef]]]


@runtime_checkable
class Adapter(Protocol):
    """Every adapter: one channel, started and closed with the app."""

    channel: Channel

    async def start(self) -> None: ...
    async def close(self) -> None: ...


@runtime_checkable
class WebhookIngress(Protocol):
    """Messages pushed to our route: headers checked first, then the body verified, then parsed."""

    channel: Channel
    webhook_path: str

    def verify_headers(self, head: RequestHead) -> None:
        """Raise WebhookRejected unless the headers (or query) may come from the provider."""

    async def verify(self, request: WebRequest) -> None:
        """Raise WebhookRejected(403) unless the request provably comes from the provider."""

    def parse(self, request: WebRequest) -> list[InboundMessage]:
        """Raise WebhookRejected(400) on malformed payloads. An empty list: nothing to store."""

    async def respond(
        self, request: WebRequest, messages: list[InboundMessage], stored: Sequence[StoredRef]
    ) -> WebResponse:
        """The provider's answer, once the messages are stored (within the provider's deadline)."""


@runtime_checkable
class PollingIngress(Protocol):
    """Messages pulled from the provider (the email mailbox) into the same writer the webhooks use."""

    channel: Channel

    def bind_inbound(self, submit: Submit) -> None:
        """The writer is built after the adapters: the composition root hands its `submit` over."""


@runtime_checkable
class Sender(Protocol):
    capabilities: Capabilities

    async def send(self, out: OutboundMessage) -> str:
        """Deliver; return the provider's message id ("" when degrading left nothing to send);
        raise bot.messages.SendError on failure."""


@runtime_checkable
class MediaFetcher(Protocol):
    async def fetch_media(self, attachment: Attachment) -> Attachment:
        """Download to the media store; return the attachment with sha256 and stored_path set.

        Raises MediaTooLarge or MediaRefused; other failures raise whatever they raise.
        """


@runtime_checkable
class StoredReader(Protocol):
    def read_stored(self, message: InboundMessage) -> InboundMessage | None:
        """The stored message as the engine handles it.

        A webhook may store only a cheap first read (who wrote, their words) and leave the
        provider library's full parse to the engine's worker, off the request path: this is
        that parse. `message` itself when the webhook read it in full; None when, read in
        full, it holds nothing anybody said (it is then kept, handled, never answered).
        """


@runtime_checkable
class RouteProvider(Protocol):
    def extra_routes(self) -> list[ExtraRoute]: ...


@runtime_checkable
class HealthProbe(Protocol):
    async def health(self) -> dict[str, Any]:
        """For /healthz: what the adapter is doing and, if it is stuck, why."""


class MissingRole(RuntimeError):
    """An adapter configured for a role it does not play: refused at start-up, not at the first message."""


def require_roles(name: str, adapter: object, roles: Sequence[type]) -> None:
    """Check once, at wiring time, that `adapter` plays every role channel `name` is configured for."""
    missing = [role.__name__ for role in (Adapter, *roles) if not isinstance(adapter, role)]
    if isinstance(adapter, Sender) and not isinstance(adapter.capabilities, Capabilities):
        missing.append("Sender (its `capabilities` is no Capabilities)")
    if missing:
        wanted = ", ".join(role.__name__ for role in roles)
        raise MissingRole(
            f"channel {name!r}: {type(adapter).__name__} is configured as {wanted} "
            f"but does not play {', '.join(missing)}"
        )


# ---- state adapters keep, implemented by storage ----------------------------------------------


class MailboxState(Protocol):
    """The email poller's progress per mailbox, and the thread a reply belongs in."""

    async def last_uid(self, account: str, mailbox_name: str, uidvalidity: int) -> int | None:
        """None when this mailbox (at this UIDVALIDITY) was never polled."""

    async def advance_uid(self, account: str, mailbox_name: str, uidvalidity: int, uid: int) -> None: ...
    async def last_thread(self, address: str) -> dict[str, Any] | None:
        """The thread headers of the address's latest mail a person wrote (a reply goes on in it)."""


class OutboundIds(Protocol):
    """Whether a provider id names a message we sent (a form echoing our own send is no client's)."""

    async def is_outbound_id(self, channel: str, addresses: list[str], provider_id: str) -> bool: ...


class ReplyRoutes(Protocol):
    """How a client last reached us, for sends that are not a direct reply to that message.

    A client who writes to a business account must be answered through the same business
    connection, also by staff from the console or by a later notice: those sends carry no
    trace of the inbound message, so the adapter asks here.
    """

    async def last_inbound_extra(self, channel: str, channel_user_id: str) -> dict[str, Any]: ...


class ReplayMemory(Protocol):
    """Signed request triples accepted before, shared by every process on the database."""

    async def remember(
        self, timestamp: int, nonce: str, signature: str, *, forget_before: int | None
    ) -> bool:
        """True the first time; False for a replay. `forget_before`: prune older triples first."""
