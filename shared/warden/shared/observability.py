"""JSON logs carrying the correlation id, and the Prometheus metrics every service exports."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import traceback
from contextvars import ContextVar

import structlog
from prometheus_client import Counter, Gauge, Histogram

from warden.shared.tracing import current_trace_ids

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)


# What an error message may carry of the data it failed on: SQL bound parameters (report
# text, reporter emails), PostgreSQL's DETAIL line (``Key (email)=(...)``), pydantic's
# ``input_value=``. Each is cut before it reaches a log line or a DLQ header.
_PERSONAL_DATA = [
    (re.compile(r"\[parameters: [^\n]*"), "[parameters hidden]"),
    (re.compile(r"DETAIL: [^\n]*"), "DETAIL: [hidden]"),
    (re.compile(r"Key \([^)\n]*\)=\([^\n]*\)"), "Key (...)=([hidden])"),
    (re.compile(r"input_value=[^\n]*?(?=, input_type=|$)", re.MULTILINE), "input_value=[hidden]"),
]


def scrub(text: str) -> str:
    """``text`` without the data values an error message may quote."""
    for pattern, replacement in _PERSONAL_DATA:
        text = pattern.sub(replacement, text)
    return text


def scrubbed_traceback(exc: BaseException) -> str:
    return scrub("".join(traceback.format_exception(exc)))


def _scrub_event(_, __, event_dict):
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = scrub(value)
    return event_dict


def _add_correlation_id(_, __, event_dict):
    cid = correlation_id_var.get()
    if cid and "correlation_id" not in event_dict:
        event_dict["correlation_id"] = cid
    return event_dict


def _add_trace_ids(_, __, event_dict):
    ids = current_trace_ids()
    if ids and "trace_id" not in event_dict:
        event_dict["trace_id"], event_dict["span_id"] = ids
    return event_dict


# aiokafka logs a lost broker at error level from every client, every retry (hundreds of
# lines in seconds) though the services handle it: retries, outbox, waiting consumers.
# These messages are demoted to debug, and the loss is logged once by ``BROKER_LOSS``.
_BROKER_LOSS_MARKERS = (
    "Unable connect to node", "Unable to update metadata", "Unable to request metadata",
    "NodeNotReadyError", "KafkaConnectionError", "RequestTimedOutError", "Connect call failed",
    "Connection reset", "coordinator dead", "Heartbeat failed", "Heartbeat session expired",
    "Got error produce response", "NotLeaderForPartitionError", "LeaderNotAvailableError",
    "Failed fetch messages", "Cannot send", "Could not send", "Error sending",
    "not started or not valid", "Coordinator not available", "CoordinatorNotAvailableError",
    "NotCoordinatorError",
)


class BrokerLoss:
    """Remembers whether Kafka is currently unreachable, so a loss and its recovery are each
    logged once (at warning) and counted, however many clients notice them.

    A broker going down or coming back produces a burst of mixed successes and errors, so a
    recovery is announced only once ``quiet_s`` passed after a success without any further
    loss message; until then the outage counts as one.
    """

    def __init__(self, quiet_s: float = 5.0) -> None:
        self.service = "warden"
        self.quiet_s = quiet_s
        self.lost = False
        self._announce: asyncio.TimerHandle | None = None

    def reset(self, service: str) -> None:
        self.service, self.lost = service, False
        self._cancel_announce()

    def noticed(self, detail: str) -> None:
        if self.lost:
            if self._announce is not None:  # not over yet: wait for quiet again
                self._cancel_announce()
                self.recovered()
            return
        self.lost = True
        KAFKA_BROKER_LOSSES.labels(self.service).inc()
        get_logger(__name__).warning("kafka_broker_unreachable", detail=detail[:300])

    def recovered(self) -> None:
        """Something reached Kafka again; announced once it stays quiet."""
        if not self.lost or self._announce is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._announce_recovery()
            return
        self._announce = loop.call_later(self.quiet_s, self._announce_recovery)

    def _cancel_announce(self) -> None:
        if self._announce is not None:
            self._announce.cancel()
            self._announce = None

    def _announce_recovery(self) -> None:
        self._announce = None
        if self.lost:
            self.lost = False
            get_logger(__name__).warning("kafka_broker_reachable_again")


BROKER_LOSS = BrokerLoss()


class BrokerLossFilter(logging.Filter):
    """On the log handler: aiokafka's lost-broker messages become one ``BROKER_LOSS`` warning;
    its other messages (real errors) pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("aiokafka") or record.levelno < logging.WARNING:
            return True
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message += f" {record.exc_info[1]!r}"
        if not any(marker in message for marker in _BROKER_LOSS_MARKERS):
            return True
        BROKER_LOSS.noticed(message)
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


class _CurrentStdout(logging.StreamHandler):
    """Writes to ``sys.stdout`` as it is when a line is logged, not as it was when logging was
    configured: a command run inside another program (a test runner's CliRunner) may swap it
    and close the old one, and a handler holding that one would fail every later line."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass  # always the current sys.stdout


def configure_logging(service: str, level: str = "INFO", json_logs: bool = True) -> None:
    """Route stdlib and structlog through one JSON renderer on stdout."""
    shared_processors = [
        structlog.contextvars.merge_contextvars,
        _add_correlation_id,
        _add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    structlog.configure(
        # A line below the level is dropped first, before the other processors stamp it (a
        # debug line per ignored event cost more than deciding to ignore it).
        processors=[structlog.stdlib.filter_by_level, *shared_processors,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _scrub_event,
            renderer,
        ],
    )
    handler = _CurrentStdout()
    handler.setFormatter(formatter)
    handler.addFilter(BrokerLossFilter())
    BROKER_LOSS.reset(service)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    structlog.contextvars.bind_contextvars(service=service)
    # httpx logs every request at info; notify's ``webhook_attempt`` line says more, once.
    for noisy in ("aiokafka", "kafka", "httpx", "httpcore"):
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
KAFKA_BROKER_LOSSES = Counter(
    "warden_kafka_broker_losses_total",
    "Times Kafka became unreachable (logged once each at warning, however many clients noticed)",
    ["service"],
)
DLQ_SEND_FAILURES = Counter(
    "warden_dlq_send_failures_total",
    "Failed attempts to write a record to its dead-letter topic (retried until acknowledged)",
    ["service", "topic"],
)
