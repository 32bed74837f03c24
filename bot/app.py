"""The composition root: config → adapters, handlers, writer, engine, dispatcher, routes.

The one module that knows every concrete part. Everything else receives what it
needs through its constructor, so tests can assemble the same app against fakes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from bot.core.delivery import DeliveryTracker, FailureEscalation
from bot.core.engine import Engine
from bot.core.link import LinkServer, fresh_socket_path
from bot.core.link_client import LinkClient
from bot.core.media import MediaLinks
from bot.core.metrics import Metrics
from bot.core.outbox import OutboxDispatcher
from bot.core.singletons import Housekeeping, gauges, wire_roles
from bot.core.writer import InboundWriter
from bot.lifecycle import RUNTIME, Runtime, lifecycle
from bot.ports import (
    Adapter,
    HealthProbe,
    MediaFetcher,
    PollingIngress,
    ReplayMemory,
    RouteProvider,
    Sender,
    StoredReader,
    WebhookIngress,
    require_roles,
)
from bot.web.api.base import Api, bearer_auth
from bot.web.api.calendar import CalendarApi
from bot.web.api.claims import ClaimsApi
from bot.web.api.escalations import EscalationApi
from bot.web.api.orders import OrdersApi
from bot.web.api.reports import ReportsApi
from bot.web.body import BodyLimits, body_guard
from bot.web.console import Console
from bot.web.console.views import Acknowledger
from bot.web.errors import not_found
from bot.web.health import Health
from bot.web.intake import IntakeApp
from bot.web.proxies import TrustedProxies
from bot.web.request_ids import request_ids
from bot.web.webhooks import add_channel_routes
from channels.base import MediaStore
from channels.sandbox import SandboxFetcher, SandboxSender
from channels.whatsapp_vcard import read_contacts
from config.settings import Settings
from escalation.calendar import Calendar
from escalation.runtime import EscalationRuntime, read_faq, read_keywords
from handlers.base import Handler
from handlers.claims.checks import EvidenceRules
from handlers.claims.commands import ClaimCommands
from handlers.claims.dialog import ClaimIntake
from handlers.claims.ocr import LabelReader
from handlers.claims.video import VideoProbe
from handlers.closures import ClosureNotice
from handlers.edits import EditedMessage
from handlers.escalation.relay import Relay
from handlers.escalation.staff import StaffCommands, StaffFallback
from handlers.escalation.urgent import Frustration, Urgent
from handlers.faq import FaqAnswer
from handlers.handoff import Handoff
from handlers.menu import Menu, MenuChoice
from handlers.orders.documents import Documents
from handlers.orders.feedback import FeedbackReply
from handlers.orders.note import NoteCommand
from handlers.orders.status import OrderStatus
from handlers.ports import Escalator
from handlers.subscription import Subscription
from storage.channel_state import DbMailboxState, DbOutboundIds, DbReplayMemory, DbReplyRoutes
from storage.db import Database
from storage.leadership import Leadership
from storage.leases import default_instance
from storage.wal import WalCheckpoints

log = logging.getLogger(__name__)

# The roles each channel's adapter is configured for; checked once when the runtime is built.
ROLES: dict[str, tuple[type, ...]] = {
    "telegram": (WebhookIngress, Sender, MediaFetcher),
    "whatsapp": (WebhookIngress, Sender, MediaFetcher, RouteProvider),
    "wechat": (WebhookIngress, Sender, MediaFetcher, RouteProvider),
    "email": (PollingIngress, Sender, MediaFetcher, RouteProvider, HealthProbe),
}


def check_roles(adapters: Mapping[str, object], roles: Mapping[str, Sequence[type]] = ROLES) -> None:
    """A clear start-up error (bot.ports.MissingRole) for an adapter missing a role it is configured for."""
    for name, adapter in adapters.items():
        require_roles(name, adapter, roles.get(name, ()))


def build_adapters(
    settings: Settings,
    store: MediaStore,
    *,
    db: Database | None = None,
    links: MediaLinks | None = None,
    delivery: DeliveryTracker | None = None,
    secret_sink: Callable[[str, str], None] | None = None,
    replays: ReplayMemory | None = None,
) -> dict[str, Adapter]:
    """`secret_sink(name, value)` learns secrets adapters obtain at run time (bot.core.logs scrubs them).

    `db` backs the state adapters keep between requests (bot.ports' state Protocols);
    `replays`, where given, is WeChat's replay memory instead of the database's.
    """
    adapters: dict[str, Adapter] = {}
    if settings.telegram.enabled:
        from channels.telegram import TelegramAdapter

        adapters["telegram"] = TelegramAdapter(
            settings.telegram,
            store,
            allow_loopback=settings.media.allow_loopback,
            routes=DbReplyRoutes(db) if db else None,
        )
    if settings.whatsapp.enabled:
        from channels.whatsapp import WhatsAppAdapter

        adapters["whatsapp"] = WhatsAppAdapter(
            settings.whatsapp,
            store,
            public_url=settings.server.public_url,
            links=links or _links(settings),
            media_hosts=settings.media.allowed_hosts,
            on_status=delivery.on_status if delivery else None,
            allow_loopback=settings.media.allow_loopback,
            outbound_ids=DbOutboundIds(db) if db else None,
        )
    if settings.wechat.enabled:
        from channels.wechat import WeChatAdapter

        adapters["wechat"] = WeChatAdapter(
            settings.wechat,
            store,
            links=links or _links(settings),
            media_hosts=settings.media.allowed_hosts,
            allow_loopback=settings.media.allow_loopback,
            secret_sink=secret_sink,
            replays=replays or (DbReplayMemory(db) if db else None),
        )
    if settings.email.enabled:
        from channels.email import EmailAdapter

        adapters["email"] = EmailAdapter(settings.email, store, DbMailboxState(db) if db else None)
    return adapters


def _links(settings: Settings) -> MediaLinks:
    return MediaLinks(
        settings.media.dir,
        settings.server.public_url,
        settings.server.admin_token,
        settings.media.link_ttl_seconds,
    )


def build_handlers(
    settings: Settings,
    escalator: Escalator,
    calendar: Calendar | None = None,
    labels: LabelReader | None = None,
    videos: VideoProbe | None = None,
) -> list[Handler]:
    """The explicit order. Observers (urgency) always run; then the first matching responder owns the turn.

    Staff commands come first (they match only registered staff), then the relay of a
    conversation that is with a staff member, then the client's intents; the menu is
    last because it takes anything. Each handler gets its collaborators here, typed.
    """
    calendar = calendar or Calendar()
    return [
        # -- observers --
        EditedMessage(),  # a correction: recorded, and answered only by a dialog awaiting it
        Subscription(),  # WeChat follow events: welcome, not the menu's "did not understand"
        ClosureNotice(calendar),  # before Urgent: "we are closed until …" comes before "on call alerted"
        Urgent(read_keywords(settings.escalation.keywords_file), escalator),
        Frustration(escalator),
        # -- staff commands (ctx.staff set) --
        ClaimCommands(),
        NoteCommand(),
        StaffCommands(escalator),  # only /ack /r /close /oncall /mine /override, alert buttons, replies
        # -- conversation with staff: relay --
        Relay(escalator, settings.escalation.relay_idle_seconds),
        # -- client intents (OrderStatus also answers staff looking up any order) --
        FeedbackReply(),
        MenuChoice(),
        ClaimIntake(labels, EvidenceRules.from_settings(settings.claims, videos)),  # labels, evidence checks
        Handoff(escalator),
        Documents(settings.media.dir, settings.documents),
        OrderStatus(calendar),
        StaffFallback(),  # anything else from staff: a short help, never the client FAQ or menu
        FaqAnswer(read_faq(settings.escalation.faq_file), escalator),
        Menu(),
    ]


def _roles(
    adapters: dict[str, Any], sandbox: SandboxSender | None, store: MediaStore
) -> tuple[dict[str, Sender], dict[str, MediaFetcher]]:
    """Who sends and who fetches media for each channel: the adapter, or the sandbox's recorder."""
    senders: dict[str, Sender] = {
        name: (sandbox or adapter) for name, adapter in adapters.items() if isinstance(adapter, Sender)
    }
    fetchers: dict[str, MediaFetcher] = {
        name: (SandboxFetcher(store) if sandbox else adapter)
        for name, adapter in adapters.items()
        if isinstance(adapter, MediaFetcher)
    }
    return senders, fetchers


Probes = dict[str, Callable[[], Awaitable[Any]]]


def _bind_adapters(adapters: dict[str, Any], writer: InboundWriter) -> Probes:
    """Pollers (email) store through the same writer as webhooks; probes feed /healthz."""
    health: Probes = {}
    for name, adapter in adapters.items():
        if isinstance(adapter, PollingIngress):
            adapter.bind_inbound(writer.submit)
        if isinstance(adapter, HealthProbe):
            health[name] = adapter.health
    return health


def _pollers(adapters: Mapping[str, Adapter]) -> dict[str, Adapter]:
    """Adapters that pull (the mailbox): each runs on the leader of its `mailbox:` role only."""
    return {name: a for name, a in adapters.items() if isinstance(a, PollingIngress)}


def _intake_link(
    settings: Settings, db: Database, writer: InboundWriter, health: Probes
) -> LinkServer | None:
    """With `server.intake_port`: the link the webhooks' process stores through (bot/core/link.py)."""
    if not settings.server.intake_port:
        return None
    link = LinkServer(fresh_socket_path(), writer.submit, DbReplayMemory(db))
    health["intake"] = link.health  # the webhook process: "on", or "down: …" while it restarts
    return link


def build_runtime(settings: Settings, *, secret_sink: Callable[[str, str], None] | None = None) -> Runtime:
    db = Database(settings.database.url)
    metrics = Metrics()
    store = MediaStore(settings.media.dir, settings.media.max_bytes)
    links = _links(settings)
    delivery = DeliveryTracker(db, settings.whatsapp)
    adapters = build_adapters(settings, store, db=db, links=links, delivery=delivery, secret_sink=secret_sink)
    check_roles(adapters)
    sandbox = SandboxSender() if settings.server.sandbox else None
    senders, fetchers = _roles(adapters, sandbox, store)
    instance = settings.cluster.instance or default_instance()
    leadership = Leadership(db, instance, retry_seconds=settings.cluster.leader_retry_seconds)
    dispatcher = OutboxDispatcher(
        db, senders, settings.outbox, metrics, on_failure=delivery.on_failure,
        instance=instance, lease_seconds=settings.cluster.lease_seconds,
    )  # fmt: skip
    escalation = EscalationRuntime(
        settings.escalation, db, metrics, channels=set(adapters), wake=dispatcher.wake,
        calendar_file=settings.calendar.file, leads=leadership.leads, instance=instance,
    )  # fmt: skip
    # The escalation service is wired in through the seams its users declare (handlers.ports,
    # bot.core.delivery, the console); these typed assignments are where mypy catches drift.
    escalator: Escalator = escalation.service
    failures: FailureEscalation = escalation.service
    delivery.after_commit, delivery.escalation = dispatcher.wake, failures
    # Carton labels (Tesseract) and claim videos (ffprobe): off the event loop, or off and /healthz says why.
    labels = LabelReader.from_settings(settings.claims)
    videos = VideoProbe.from_settings(settings.claims, settings.media.dir)
    contact_readers = [read_contacts] if "whatsapp" in adapters else []
    engine = Engine(
        db,
        build_handlers(settings, escalator, escalation.calendar, labels, videos),
        fetchers=fetchers,
        metrics=metrics,
        escalator=escalator,
        after_commit=dispatcher.wake,
        media_limit_bytes=settings.media.max_bytes,
        flood_per_minute=settings.server.flood_per_minute,
        sweep_seconds=settings.cluster.sweep_seconds,
        # OCR of carton labels, video probes; a WhatsApp contact card's names and numbers as text
        media_readers=[r.prepare for r in (labels, videos) if r.on] + contact_readers,
        stored_readers={name: a for name, a in adapters.items() if isinstance(a, StoredReader)},
    )
    writer = InboundWriter(db, engine.submit)
    health = _bind_adapters(adapters, writer)
    health["escalation"] = escalation.health
    health["ocr"] = labels.health  # "on", or "off: tesseract not found (…)" and the like
    health["video"] = videos.health  # "on", or "off: ffprobe not found (…)"
    link = _intake_link(settings, db, writer, health)
    housekeeping = Housekeeping(db)
    wire_roles(leadership, escalation.jobs, _pollers(adapters), housekeeping)
    probes = Health(
        db.ping, health, metrics.registry, instance=instance, leads=leadership.held,
        before_scrape=gauges(db, metrics, leadership),
    )  # fmt: skip
    return Runtime(
        settings, db, metrics, store, links, adapters, writer, engine, dispatcher, sandbox,
        escalation=escalation, leadership=leadership, health=probes, housekeeping=housekeeping,
        checkpoints=WalCheckpoints(db), link=link,
    )


def create_app(settings: Settings, runtime: Runtime | None = None) -> web.Application:
    rt = runtime or build_runtime(settings)
    bodies = BodyLimits(settings.server.max_body_bytes, settings.server.body_timeout_seconds)
    auth = bearer_auth(settings.server.admin_token)
    app = web.Application(  # draining refusal, authentication, then the bounded body read, then the route
        middlewares=[rt.health.refuse_while_draining, request_ids, auth, body_guard(bodies)],
        client_max_size=settings.server.max_body_bytes,
    )
    app[RUNTIME] = rt
    app.cleanup_ctx.append(lifecycle)
    add_channel_routes(app, rt.adapters.values(), rt.writer, rt.metrics, bodies)
    app.router.add_routes(rt.health.routes())
    app.router.add_get("/media/{token}", rt.links.handle)
    app.router.add_routes(Api(rt.db, rt.links).routes())
    app.router.add_routes(ClaimsApi(rt.db, rt.links, rt.dispatcher.wake).routes())
    app.router.add_routes(OrdersApi(rt.db, rt.dispatcher.wake).routes())
    app.router.add_routes(EscalationApi(rt.db, rt.escalation).routes())
    app.router.add_routes(ReportsApi(rt.db).routes())
    app.router.add_routes(CalendarApi(rt.escalation.calendar, lambda: rt.escalation.service.clock()).routes())
    acknowledger: Acknowledger = rt.escalation.service
    console = Console(
        rt.db,
        rt.links,
        settings.server.admin_token,
        rt.dispatcher.wake,
        acknowledger,
        sandbox=settings.server.sandbox,
        proxies=TrustedProxies(settings.server.trusted_proxies),
    )
    console.install(app)
    app.router.add_route("*", "/api/{tail:.*}", not_found)
    return app


def create_intake_app(settings: Settings, link_path: str) -> web.Application:
    """The intake process (bot/web/intake.py): the webhooks, stored by `serve` over `link_path`."""
    db = Database(settings.database.url)  # read only: our own sends echoed back (WhatsApp)
    link = LinkClient(link_path)
    store = MediaStore(settings.media.dir, settings.media.max_bytes)
    adapters = build_adapters(settings, store, db=db, replays=link)
    check_roles(adapters)
    bodies = BodyLimits(settings.server.max_body_bytes, settings.server.body_timeout_seconds)
    intake = IntakeApp(list(adapters.values()), link, bodies, close=db.dispose)
    return intake.build()
