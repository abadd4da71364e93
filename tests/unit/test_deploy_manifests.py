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


def env_name(settings_class, field: str) -> str:
    """The environment variable that sets one field of a settings class."""
    alias = settings_class.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0]).upper()
    return f"{settings_class.model_config.get('env_prefix', '')}{field}".upper()


def env_names(settings_class) -> set[str]:
    """Every environment variable a settings class reads."""
    return {env_name(settings_class, name) for name in settings_class.model_fields}


def all_env_names() -> set[str]:
    from warden.notify.receiver import ReceiverSettings

    names = {"SERVICE", "WARDEN_KPI_ARCHIVE"}
    for name in SERVICE_NAMES:
        names |= env_names(service(name).settings_class)
    return names | env_names(ReceiverSettings)


# A setting is secret when its name says so, or it is a database URL (it carries the
# password). ``dev_*`` settings are development-only and must not be deployed at all.
SECRET_SUFFIXES = ("_secret", "_token", "_key", "_keys", "_password")


def secret_settings(settings_class) -> dict[str, object]:
    """Environment variable -> default of every secret setting a settings class reads."""
    return {env_name(settings_class, name): field.default
            for name, field in settings_class.model_fields.items()
            if not name.startswith("dev_")
            and (name.endswith(SECRET_SUFFIXES) or name == "database_url")}


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


def container_of(kind: str, name: str) -> dict:
    [container] = of_kind(kind)[name]["spec"]["template"]["spec"]["containers"]
    return container


def assert_secrets_come_from_the_secret(container: dict, settings_classes) -> None:
    """Every secret setting is a secretKeyRef into warden-secrets (required unless its
    default is empty, i.e. the feature is off without it); none is a literal anywhere."""
    env = {e["name"]: e for e in container.get("env", [])}
    config = of_kind("ConfigMap")["warden-config"]["data"]
    assert not [s for s in container.get("envFrom", []) if "secretRef" in s], \
        "a whole-Secret envFrom hides which secrets a container gets: use secretKeyRef"
    wanted = {}
    for settings_class in settings_classes:
        wanted |= secret_settings(settings_class)
    for variable, default in wanted.items():
        assert variable not in config, f"{variable} is a literal in the ConfigMap"
        entry = env.get(variable)
        assert entry is not None, f"{container['name']}: {variable} is not provided"
        assert "value" not in entry, f"{container['name']}: {variable} is a literal"
        ref = entry["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == ("warden-secrets", variable), entry
        assert not ref.get("optional") or not default, \
            f"{variable} may not be optional: its default is the published development one"
    dev_only = {env_name(c, n) for c in settings_classes for n in c.model_fields
                if n.startswith("dev_")}
    assert not dev_only & (set(env) | set(config)), dev_only & (set(env) | set(config))


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_secret_setting_of_a_service_comes_from_the_secret(name):
    settings_class = service(name).settings_class
    assert {"WARDEN_REVIEWER_TOKEN_SECRET", f"WARDEN_{name.upper()}_DATABASE_URL"} <= set(
        secret_settings(settings_class))
    assert_secrets_come_from_the_secret(container_of("Deployment", f"warden-{name}"),
                                        [settings_class])


def test_the_setup_job_gets_every_services_secrets():
    assert_secrets_come_from_the_secret(container_of("Job", "warden-setup"),
                                        [service(n).settings_class for n in SERVICE_NAMES])


def test_secret_settings_are_the_ones_the_services_guard():
    """The classification above finds the settings the production guard refuses at their
    published defaults (so a new secret setting cannot slip past this file)."""
    from warden.decision.settings import DecisionSettings
    from warden.notify.settings import NotifySettings
    from warden.routing.settings import RoutingSettings

    assert {"WARDEN_ROUTING_LEASE_SIGNING_KEY"} <= set(secret_settings(RoutingSettings))
    assert {"WARDEN_DECISION_LEASE_VERIFY_KEY"} <= set(secret_settings(DecisionSettings))
    assert {"WARDEN_NOTIFY_WEBHOOK_SECRET", "WARDEN_NOTIFY_TDB_TOKEN"} <= set(
        secret_settings(NotifySettings))
    for name in SERVICE_NAMES:
        guarded = [line.split()[0] for line in service(name).settings_class(dev_mode=False)
                   .insecure_settings() if "published default" in line]
        assert set(guarded) <= set(secret_settings(service(name).settings_class)), guarded


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


def test_compose_is_a_development_system_and_says_so():
    """Compose runs on the published development secrets: WARDEN_DEV_MODE=true lets the
    services start with them, and the file says it is not a production shape. The only
    secret settings it sets are the database URLs of its own throwaway PostgreSQL."""
    text = (ROOT / "deploy/compose.yaml").read_text()
    assert "WARDEN_DEV_MODE" in text and "production refuses them" in text
    for name in SERVICE_NAMES:
        environment = {k: str(v) for k, v in COMPOSE["services"][name]["environment"].items()}
        assert environment["WARDEN_DEV_MODE"] == "true", name
        secrets = set(secret_settings(service(name).settings_class)) & set(environment)
        assert secrets == {f"WARDEN_{name.upper()}_DATABASE_URL"}, secrets


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
