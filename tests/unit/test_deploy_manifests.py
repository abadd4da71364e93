"""Deployment files: the image, the compose file and the Kubernetes manifests are checked
against the Kubernetes schemas and against the services' own settings."""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from pydantic import AliasChoices

from warden.cli.services import SERVICE_NAMES, service
from warden.shared.contracts.topics import ALL_TOPICS

ROOT = Path(__file__).resolve().parents[2]
K8S = list(yaml.safe_load_all((ROOT / "deploy/k8s/warden.yaml").read_text()))
COMPOSE = yaml.safe_load((ROOT / "deploy/compose.yaml").read_text())
DOCKERFILE = (ROOT / "deploy/docker/Dockerfile").read_text()


def env_names(settings_class) -> set[str]:
    """Every environment variable a settings class reads."""
    prefix = settings_class.model_config.get("env_prefix", "")
    names = set()
    for name, field in settings_class.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.add(str(alias.choices[0]).upper())
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def all_env_names() -> set[str]:
    from warden.notify.receiver import ReceiverSettings

    names = {"SERVICE", "WARDEN_KPI_ARCHIVE"}
    for name in SERVICE_NAMES:
        names |= env_names(service(name).settings_class)
    return names | env_names(ReceiverSettings)


def of_kind(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in K8S if d["kind"] == kind}


# --- Kubernetes -------------------------------------------------------------------------

@pytest.mark.parametrize("doc", [d for d in K8S if d["kind"] != "ScaledObject"],
                         ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_validates_against_the_kubernetes_schema(doc):
    kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_has_probes_resources_a_budget_and_lag_autoscaling(name):
    settings = service(name).settings()
    app = f"warden-{name}"
    deployment = of_kind("Deployment")[app]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert {"name": "SERVICE", "value": name} in container["env"]
    assert container["ports"] == [{"name": "http", "containerPort": settings.port}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(settings.port)

    budget = of_kind("PodDisruptionBudget")[app]
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert budget["spec"]["minAvailable"] < deployment["spec"]["replicas"]

    config = of_kind("ConfigMap")["warden-config"]["data"]
    scaled = of_kind("ScaledObject")[app]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"] == app
    assert scaled["spec"]["maxReplicaCount"] <= int(config["WARDEN_TOPIC_PARTITIONS"])
    assert scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    assert scaled["spec"]["triggers"]
    for trigger in scaled["spec"]["triggers"]:
        meta = trigger["metadata"]
        assert trigger["type"] == "kafka"
        assert meta["consumerGroup"] == settings.group_id  # the group the service really uses
        assert meta["topic"] in ALL_TOPICS
        assert meta["bootstrapServers"] == config["WARDEN_KAFKA_BOOTSTRAP"]
        assert int(meta["lagThreshold"]) > 0


def test_configuration_names_only_settings_that_exist():
    known = all_env_names()
    assert set(of_kind("ConfigMap")["warden-config"]["data"]) <= known
    setup = of_kind("Job")["warden-setup"]["spec"]["template"]["spec"]["containers"][0]
    assert "python -m warden.cli topics" in setup["command"][-1]
    assert "migrate all" in setup["command"][-1]


# --- compose ----------------------------------------------------------------------------

def test_compose_runs_kraft_kafka_postgres_and_every_service():
    services = COMPOSE["services"]
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert services["postgres"]["image"].startswith("postgres:")
    assert set(SERVICE_NAMES) <= set(services)
    assert "python -m warden.cli topics" in services["setup"]["command"][-1]
    assert (ROOT / "deploy" / services["setup"]["build"]["context"] /
            services["setup"]["build"]["dockerfile"]).exists()


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_compose_service_settings_point_at_the_compose_infrastructure(name, monkeypatch):
    spec = COMPOSE["services"][name]
    environment = {k: str(v) for k, v in spec["environment"].items()}
    assert set(environment) <= all_env_names(), set(environment) - all_env_names()
    for key in list(__import__("os").environ):
        if key.startswith("WARDEN_"):
            monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    settings = service(name).settings()
    host, _, port = settings.kafka_bootstrap.partition(":")
    assert host in COMPOSE["services"] and port == "9092"
    database = re.match(r".*@(?P<host>[^:/]+):5432/(?P<db>\w+)$", settings.database_url)
    assert database and database["host"] == "postgres", settings.database_url
    created = set(re.findall(r"CREATE DATABASE (\w+)",
                             (ROOT / "deploy/docker/init-databases.sql").read_text()))
    created.add(COMPOSE["services"]["postgres"]["environment"]["POSTGRES_DB"])
    assert database["db"] in created
    assert spec["ports"] == [f"{settings.port}:{settings.port}"]
    assert environment["SERVICE"] == name


def test_compose_monitoring_mounts_the_checked_in_rules_and_dashboards():
    mounts = [v.split(":")[0] for s in ("prometheus", "grafana")
              for v in COMPOSE["services"][s]["volumes"]]
    for mount in mounts:
        assert (ROOT / "deploy" / mount).exists(), mount


# --- image ------------------------------------------------------------------------------

def test_image_is_multi_stage_non_root_with_a_health_check():
    stages = re.findall(r"^FROM \S+ AS (\w+)", DOCKERFILE, re.M)
    assert len(stages) >= 2
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*warden-healthcheck", DOCKERFILE, re.M)
    for path in ("shared", "services", "cli", "bin"):
        assert re.search(rf"^COPY .* {path} \./{path}$", DOCKERFILE, re.M), path
    python_path = re.search(r"PYTHONPATH=(\S+)", DOCKERFILE)[1].split(":")
    assert "/app/cli" in python_path and "/app/shared" in python_path


def test_health_check_script_knows_every_services_port():
    source = (ROOT / "deploy/docker/healthcheck.py").read_text()
    for name in SERVICE_NAMES:
        assert f'"{name}": {service(name).settings_class.model_fields["port"].default}' in source
