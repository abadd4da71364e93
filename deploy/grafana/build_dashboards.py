"""Generate the Grafana dashboards (one per service and an overview) as JSON files.

    python deploy/grafana/build_dashboards.py      # rewrites deploy/grafana/dashboards/*.json

The JSON is checked in (Grafana provisioning loads it); a test checks it matches this
script and that every query names metrics the services export.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent / "dashboards"
SERVICES = ("intake", "routing", "decision", "notify")


def panel(title: str, exprs: list[tuple[str, str]], unit: str, *, kind: str = "timeseries",
          width: int = 12) -> dict:
    return {"type": kind, "title": title, "gridPos": {"w": width, "h": 8},
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"expr": expr, "legendFormat": legend, "refId": chr(65 + i)}
                        for i, (expr, legend) in enumerate(exprs)]}


def common_panels(service: str) -> list[dict]:
    s = f'service="{service}"'
    return [
        panel("HTTP requests by status", [
            (f"sum by (status) (rate(warden_http_requests_total{{{s}}}[5m]))", "{{status}}")],
            "reqps"),
        panel("HTTP latency p90 by route", [
            (f"histogram_quantile(0.9, sum by (le, route) "
             f"(rate(warden_http_request_seconds_bucket{{{s}}}[5m])))", "{{route}}")], "s"),
        panel("Events consumed by outcome", [
            (f"sum by (topic, outcome) (rate(warden_events_consumed_total{{{s}}}[5m]))",
             "{{topic}} {{outcome}}")], "ops"),
        panel("Event processing p90", [
            (f"histogram_quantile(0.9, sum by (le, topic) "
             f"(rate(warden_event_processing_seconds_bucket{{{s}}}[5m])))", "{{topic}}")], "s"),
        panel("Consumer lag", [
            (f"sum by (topic) (warden_consumer_lag{{{s}}})", "{{topic}}")], "short"),
        panel("Outbox backlog and publish rate", [
            (f"max(warden_outbox_backlog{{{s}}})", "unpublished"),
            (f"sum(rate(warden_events_published_total{{{s}}}[5m]))", "published/s")], "short"),
        panel("Dead-lettered records", [
            (f"sum by (topic) (increase(warden_dlq_records_total{{{s}}}[15m]))", "{{topic}}")],
            "short"),
    ]


EXTRA = {
    "routing": [
        panel("Queue depth", [("sum by (queue) (warden_routing_queue_depth)", "{{queue}}")],
              "short"),
        panel("Cases overdue and at risk", [
            ("sum by (queue) (warden_routing_queue_overdue)", "overdue {{queue}}"),
            ("sum by (queue) (warden_routing_queue_at_risk)", "at risk {{queue}}")], "short"),
        panel("Oldest case age", [
            ("max by (queue) (warden_routing_queue_oldest_age_seconds)", "{{queue}}")], "s"),
        panel("Legal deadlines at risk", [
            ("sum by (queue) (warden_routing_legal_deadline_at_risk)", "{{queue}}")], "short"),
        panel("Claims by outcome", [
            ("sum by (queue, outcome) (rate(warden_routing_claims_total[5m]))",
             "{{queue}} {{outcome}}")], "ops"),
        panel("Reports routed by outcome", [
            ("sum by (outcome) (rate(warden_routing_reports_total[5m]))", "{{outcome}}")],
              "ops"),
    ],
    "notify": [
        panel("Webhook attempts by outcome", [
            ('sum by (outcome) (rate(warden_webhook_attempts_total{service="notify"}[5m]))',
             "{{outcome}}")], "ops"),
        panel("Webhook latency p90", [
            ('histogram_quantile(0.9, sum by (le) '
             '(rate(warden_webhook_request_seconds_bucket{service="notify"}[5m])))', "p90")],
              "s"),
        panel("Deliveries per audience", [
            ("sum by (audience, outcome) (rate(warden_notify_deliveries_total[5m]))",
             "{{audience}} {{outcome}}")], "ops"),
        panel("Open circuit breakers", [
            ("sum by (endpoint) (warden_notify_circuit_open)", "{{endpoint}}")], "short"),
    ],
}


def overview() -> list[dict]:
    return [
        panel("Reports taken in", [
            ('sum(rate(warden_events_consumed_total{service="routing",outcome="processed"}[5m]))',
             "reports/s")], "ops", kind="stat", width=6),
        panel("Open cases", [("sum(warden_routing_queue_depth)", "open")], "short",
              kind="stat", width=6),
        panel("Cases overdue", [("sum(warden_routing_queue_overdue)", "overdue")], "short",
              kind="stat", width=6),
        panel("Dead letters (1 h)", [("sum(increase(warden_dlq_records_total[1h]))", "dlq")],
              "short", kind="stat", width=6),
        panel("Consumer lag per service", [
            ("sum by (service) (warden_consumer_lag)", "{{service}}")], "short"),
        panel("Outbox backlog per service", [
            ("max by (service) (warden_outbox_backlog)", "{{service}}")], "short"),
        panel("HTTP 5xx per service", [
            ('sum by (service) (rate(warden_http_requests_total{status=~"5.."}[5m]))',
             "{{service}}")], "reqps"),
        panel("Webhooks given up", [
            ('sum(increase(warden_webhook_attempts_total{outcome="dead"}[1h]))', "dead")],
              "short"),
    ]


def dashboard(uid: str, title: str, panels: list[dict]) -> dict:
    for number, item in enumerate(panels, 1):
        item["id"] = number
        item["gridPos"].update(x=(item["gridPos"]["w"] * (number - 1)) % 24,
                               y=8 * ((number - 1) // (24 // item["gridPos"]["w"])))
    return {"uid": uid, "title": title, "tags": ["warden"], "timezone": "utc",
            "schemaVersion": 39, "refresh": "30s", "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": [{"name": "datasource", "type": "datasource",
                                     "query": "prometheus", "label": "Prometheus"}]},
            "panels": panels}


def dashboards() -> dict[str, dict]:
    result = {"overview": dashboard("warden-overview", "Warden overview", overview())}
    for service in SERVICES:
        result[service] = dashboard(f"warden-{service}", f"Warden {service}",
                                    common_panels(service) + EXTRA.get(service, []))
    return result


def render(board: dict) -> str:
    return json.dumps(board, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    HERE.mkdir(parents=True, exist_ok=True)
    for name, board in dashboards().items():
        (HERE / f"{name}.json").write_text(render(board))
        print(HERE / f"{name}.json")
