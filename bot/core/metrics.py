"""Prometheus collectors, one registry per running app (tests start several in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._message_metrics(self.registry)
        self._escalation_metrics(self.registry)
        self._cluster_metrics(self.registry)

    def _message_metrics(self, r: CollectorRegistry) -> None:
        """Webhooks, messages in and out, the outbox and handling: the bot's own traffic."""
        self.webhooks = Counter(
            "aftersales_webhooks_total",
            "Webhook requests by channel and HTTP status",
            ["channel", "status"],
            registry=r,
        )
        self.messages_in = Counter(
            "aftersales_messages_in_total", "Inbound messages stored", ["channel"], registry=r
        )
        self.duplicates = Counter(
            "aftersales_messages_duplicate_total",
            "Provider retries recognised and ignored",
            ["channel"],
            registry=r,
        )
        self.messages_out = Counter(
            "aftersales_messages_out_total", "Outbound messages delivered", ["channel", "kind"], registry=r
        )
        self.outbox_failures = Counter(
            "aftersales_outbox_failures_total", "Failed delivery attempts", ["channel", "final"], registry=r
        )
        self.outbox_depth = Gauge("aftersales_outbox_depth", "Outbox rows by state", ["state"], registry=r)
        self.handling_seconds = Histogram(
            "aftersales_handling_seconds",
            "Time from message stored to its replies committed",
            ["channel"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.record_seconds = Histogram(
            "aftersales_outbox_record_seconds",
            "From the provider accepting a send to its record as sent (a kill -9 repeats it until then)",
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.handler_errors = Counter(
            "aftersales_handler_errors_total", "Messages whose handling raised", ["channel"], registry=r
        )
        self.media_refused = Counter(
            "aftersales_media_refused_total", "Attachments not fetched", ["channel", "reason"], registry=r
        )

    def _escalation_metrics(self, r: CollectorRegistry) -> None:
        """Escalations opened, paged, climbing levels and answered (escalation/service.py)."""
        self.escalations_opened = Counter(
            "aftersales_escalations_opened_total", "Escalations opened", ["reason", "priority"], registry=r
        )
        self.escalation_pages = Counter(
            "aftersales_escalation_pages_total", "Alerts sent to staff", ["policy", "channel"], registry=r
        )
        self.escalation_levels = Counter(
            "aftersales_escalation_levels_reached_total",
            'Escalation levels reached ("all" = the final all-hands alert)',
            ["policy", "level"],
            registry=r,
        )
        self.escalation_ack_seconds = Histogram(
            "aftersales_escalation_ack_seconds",
            "Time from escalation opened to acknowledged",
            ["policy"],
            buckets=(5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200),
            registry=r,
        )
        self.escalation_resolve_seconds = Histogram(
            "aftersales_escalation_resolve_seconds",
            "Time from escalation opened to resolved",
            ["policy"],
            buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400),
            registry=r,
        )

    def _cluster_metrics(self, r: CollectorRegistry) -> None:
        """What the alert rules of deploy/prometheus watch; refreshed from the database at each scrape."""
        self.leader = Gauge(
            "aftersales_leader", "1 while this process leads the role", ["role"], registry=r
        )
        self.escalations_unacknowledged = Gauge(
            "aftersales_escalations_unacknowledged", "Open escalations nobody has acknowledged", registry=r
        )
        self.oldest_unacknowledged_seconds = Gauge(
            "aftersales_escalation_oldest_unacknowledged_seconds",
            "Age of the oldest open escalation nobody has acknowledged (0 when none)",
            registry=r,
        )
