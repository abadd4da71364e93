"""JSON logs carrying the correlation id, and the Prometheus metrics every service exports."""

from __future__ import annotations

import logging
import sys
import uuid
from contextvars import ContextVar

import structlog
from prometheus_client import Counter, Gauge, Histogram

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def current_correlation_id() -> str:
    """The request's or event's correlation id; a fresh one when there is none."""
    return correlation_id_var.get() or str(uuid.uuid4())


def _add_correlation_id(_, __, event_dict):
    cid = correlation_id_var.get()
    if cid and "correlation_id" not in event_dict:
        event_dict["correlation_id"] = cid
    return event_dict


def configure_logging(service: str, level: str = "INFO", json_logs: bool = True) -> None:
    """Route stdlib and structlog through one JSON renderer on stdout."""
    shared_processors = [
        structlog.contextvars.merge_contextvars,
        _add_correlation_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    structlog.contextvars.bind_contextvars(service=service)
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str):
    return structlog.get_logger(name)


# Metrics are process-wide objects (prometheus-client's model); every series is labelled
# with the service so one process hosting several apps (tests) stays unambiguous.
EVENTS_CONSUMED = Counter(
    "warden_events_consumed_total", "Events taken from Kafka by outcome",
    ["service", "topic", "outcome"],
)
EVENT_PROCESSING_SECONDS = Histogram(
    "warden_event_processing_seconds", "Time to handle one consumed event",
    ["service", "topic"],
)
CONSUMER_LAG = Gauge(
    "warden_consumer_lag", "Records behind the partition's high watermark",
    ["service", "topic", "partition"],
)
EVENTS_PUBLISHED = Counter(
    "warden_events_published_total", "Outbox events published to Kafka", ["service", "topic"],
)
OUTBOX_BACKLOG = Gauge("warden_outbox_backlog", "Outbox events not yet published", ["service"])
DLQ_RECORDS = Counter(
    "warden_dlq_records_total", "Records sent to a dead-letter topic", ["service", "topic"],
)
HTTP_REQUESTS = Counter(
    "warden_http_requests_total", "HTTP requests by route and status",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "warden_http_request_seconds", "HTTP request latency", ["service", "method", "route"],
)
PRODUCER_RENEWALS = Counter(
    "warden_producer_renewals_total",
    "Kafka producers replaced after a failed send (their sequence state is no longer trusted)",
    ["client"],
)
UNKNOWN_EVENTS = Counter(
    "warden_unknown_events_total",
    "Well-formed events of a type this version does not know, skipped (a newer producer?)",
    ["service", "topic", "type"],
)
