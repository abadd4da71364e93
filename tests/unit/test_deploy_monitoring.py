"""Alert rules and dashboards name only metrics and labels the services really export."""

from __future__ import annotations

import json
import re
from pathlib import Path

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy/prometheus/alerts.yaml"
PENDING = yaml.safe_load((ROOT / "deploy/prometheus/pending-metrics.yaml").read_text())
DASHBOARDS = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
# Series Prometheus itself adds to every scrape.
PROMETHEUS_SERIES = {"up": {"job", "instance"}}
SUFFIXES = ("_bucket", "_count", "_sum", "_created")


def exported_metrics() -> dict[str, set[str]]:
    """Metric name -> label names, from the registry after loading all four services."""
    import warden.intake.app  # noqa: F401 - importing registers each service's metrics
    import warden.notify.app  # noqa: F401
    import warden.routing.app  # noqa: F401
    import warden.decision.app  # noqa: F401

    metrics: dict[str, set[str]] = {}
    for collector in list(REGISTRY._collector_to_names):  # noqa: SLF001 - the only index
        labels = set(getattr(collector, "_labelnames", ()))
        for metric in collector.collect():
            names = {metric.name}
            if metric.type == "counter":
                names.add(f"{metric.name}_total")
            if metric.type == "histogram":
                names |= {f"{metric.name}{s}" for s in SUFFIXES}
            for name in names:
                metrics[name] = labels | ({"le"} if name.endswith("_bucket") else set())
    return metrics


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric, label names used in matchers) of every selector in a PromQL expression."""
    found: list[tuple[str, set[str]]] = []

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            found.append((node.name, {m.name for m in node.matchers.matchers}))
        return None

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def grouping_labels(expr: str) -> set[str]:
    return {label.strip() for group in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", expr)
            for label in group.split(",") if label.strip()}


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"]
            for rule in group["rules"]]


def dashboard_queries() -> list[tuple[str, str]]:
    return [(f"{path.name}: {panel['title']}", target["expr"])
            for path in DASHBOARDS for panel in json.loads(path.read_text())["panels"]
            for target in panel["targets"]]


def known_labels(metric: str, exported: dict[str, set[str]]) -> set[str]:
    if metric in exported:
        return exported[metric]
    if metric in PROMETHEUS_SERIES:
        return PROMETHEUS_SERIES[metric]
    base = metric.removesuffix("_bucket")
    if base in PENDING:
        return set(PENDING[base]["labels"]) | {"le"}
    raise AssertionError(f"{metric} is neither exported by a service nor listed as pending")


@pytest.mark.parametrize("where, expr", [(r["alert"], r["expr"]) for r in alert_rules()]
                         + dashboard_queries())
def test_expression_names_exported_metrics_and_labels(where, expr):
    exported = exported_metrics()
    used = selectors(expr)
    assert used, f"{where}: no metric in {expr}"
    labels_available: set[str] = set()
    for metric, matched in used:
        labels = known_labels(metric, exported)
        assert matched <= labels, f"{where}: {metric} has no label {matched - labels}"
        labels_available |= labels
    assert grouping_labels(expr) <= labels_available, (where, grouping_labels(expr))


def test_pending_metrics_are_not_exported_yet():
    exported = exported_metrics()
    already = [name for name in PENDING if name in exported]
    assert not already, f"now exported, remove from pending-metrics.yaml: {already}"


def test_every_alert_has_a_runbook_with_meaning_diagnosis_and_action():
    runbooks = (ROOT / "docs/runbooks.md").read_text()
    sections = dict(re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", runbooks, re.M | re.S))
    rules = alert_rules()
    assert len(rules) >= 10
    for rule in rules:
        name = rule["alert"]
        assert rule["annotations"]["runbook_url"] == f"docs/runbooks.md#{name.lower()}"
        assert rule["labels"]["severity"] in {"warning", "critical"}
        body = sections.get(name)
        assert body, f"no runbook section for {name}"
        for part in ("**What it means.**", "**How to look.**", "**What to do.**"):
            assert part in body, (name, part)
    # How to look names CLI commands that exist.
    from typer.main import get_command

    from warden.cli.app import app
    commands = set(get_command(app).commands)
    for command in re.findall(r"bin/warden (\w+)", runbooks):
        assert command in commands, command


def test_alert_categories_of_the_issue_are_covered():
    exprs = " ".join(r["expr"] for r in alert_rules())
    for metric in ("warden_consumer_lag", "warden_dlq_records_total", "warden_outbox_backlog",
                   "warden_routing_queue_overdue", "warden_routing_legal_deadline_at_risk",
                   "warden_notify_deliveries_total", "warden_notify_circuit_open"):
        assert metric in exprs, metric


def test_dashboards_are_the_generated_ones_one_per_service_and_an_overview():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_dashboards",
                                                  ROOT / "deploy/grafana/build_dashboards.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    generated = module.dashboards()
    assert {p.stem for p in DASHBOARDS} == {"overview", "intake", "routing", "decision", "notify"}
    for path in DASHBOARDS:
        assert path.read_text() == module.render(generated[path.stem]), \
            f"{path.name} is stale: run python deploy/grafana/build_dashboards.py"
        board = json.loads(path.read_text())
        assert board["uid"] and board["title"] and board["panels"]
        for panel in board["panels"]:
            assert panel["title"] and panel["fieldConfig"]["defaults"]["unit"], panel
