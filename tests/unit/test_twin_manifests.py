"""The twin's manifests (manifests/twin/): valid for Kubernetes and Strimzi, the topics the
code names, the Deployment's probes and security; and the KafkaTopic check itself."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from novamind_core.infrastructure.deployment.manifests import MANIFESTS, validate_documents
from novamind_core.infrastructure.events import topics

TWIN = MANIFESTS / "twin"
TWIN_YAML = TWIN / "twin.yaml"
TOPICS_YAML = TWIN / "kafka-topics.yaml"
DAY_MS = 24 * 60 * 60 * 1000
# name -> (partitions, replicas, retention in days)
EXPECTED_TOPICS = {
    "novamind.symptom-updates": (6, 3, 7),
    "novamind.twin-insights": (6, 3, 1),
    "novamind.model-promotions": (1, 3, 30),
    "novamind.symptom-updates.dlq": (1, 3, 30),
}


def _docs(path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _one(kind: str) -> dict:
    (doc,) = [d for d in _docs(TWIN_YAML) if d["kind"] == kind]
    return doc


def _container() -> dict:
    (container,) = _one("Deployment")["spec"]["template"]["spec"]["containers"]
    return container


def _topic_documents() -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in _docs(TOPICS_YAML)}


# --- the files as written ---------------------------------------------------------------


@pytest.mark.parametrize("path", [TWIN_YAML, TOPICS_YAML], ids=lambda p: p.name)
def test_twin_manifests_are_valid(path):
    assert validate_documents(path.read_text()) == []


def test_deploy_validate_accepts_them():
    from novamind_core.cli import app

    result = CliRunner().invoke(app, ["deploy", "validate", str(TWIN_YAML), str(TOPICS_YAML)])
    assert result.exit_code == 0, result.output
    assert "2 file(s)" in result.output


def test_every_topic_the_code_names_has_a_kafka_topic():
    declared = {
        doc.get("spec", {}).get("topicName") or name for name, doc in _topic_documents().items()
    }
    assert topics.ALL_TOPICS  # the constants are there to compare with
    assert set(topics.ALL_TOPICS) <= declared
    assert {
        topics.SYMPTOM_UPDATES,
        topics.TWIN_INSIGHTS,
        topics.MODEL_PROMOTIONS,
        topics.DEAD_LETTERS,
    } <= declared


def test_topics_are_sized_and_kept_as_specified():
    documents = _topic_documents()
    assert set(documents) == set(EXPECTED_TOPICS)
    for name, (partitions, replicas, days) in EXPECTED_TOPICS.items():
        doc = documents[name]
        assert doc["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert doc["metadata"]["labels"]["strimzi.io/cluster"] == "novamind-kafka"
        assert doc["metadata"]["namespace"] == "novamind-ml"
        spec = doc["spec"]
        assert (spec["partitions"], spec["replicas"]) == (partitions, replicas), name
        assert spec["config"]["retention.ms"] == days * DAY_MS, name
        assert spec["config"]["min.insync.replicas"] == 2, name
    assert documents["novamind.model-promotions"]["spec"]["config"]["cleanup.policy"] == "delete"


# --- the KafkaTopic check ---------------------------------------------------------------

FIRST = "name: novamind.symptom-updates\n"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda t: t.replace("partitions: 6", "partitions: 0", 1),
            "/spec/partitions: Input should be greater than or equal to 1",
        ),
        (
            lambda t: t.replace("partitions: 6", 'partitions: "6"', 1),
            "/spec/partitions: Input should be a valid integer",
        ),
        (
            lambda t: t.replace("replicas: 3", "replicas: 32768", 1),
            "/spec/replicas: Input should be less than or equal to 32767",
        ),
        (
            lambda t: t.replace(FIRST, "name: novamind/symptom updates\n", 1),
            "/metadata/name: 'novamind/symptom updates' is not a valid Kafka topic name",
        ),
        (
            lambda t: t.replace(FIRST, "name: Novamind_Symptoms\n", 1),
            "/metadata/name: 'Novamind_Symptoms' is not a valid Kubernetes name",
        ),
        (
            lambda t: t.replace(FIRST, f"name: {'a' * 250}\n", 1),
            "/metadata/name: a Kafka topic name has at most 249 characters, got 250",
        ),
        (
            lambda t: t.replace("  partitions: 6\n", "  topicName: 'a b'\n  partitions: 6\n", 1),
            "/spec/topicName: 'a b' is not a valid Kafka topic name",
        ),
        (
            lambda t: t.replace("    strimzi.io/cluster: novamind-kafka\n", "", 1),
            "/metadata/labels: the label strimzi.io/cluster is required",
        ),
        (
            lambda t: t.replace("  replicas: 3\n", "  replicas: 3\n  replicationFactor: 3\n", 1),
            "/spec/replicationFactor: unknown field of KafkaTopicSpec",
        ),
        (
            lambda t: t.replace("min.insync.replicas: 2", "min.insync.replicas: [2]", 1),
            "/spec/config/min.insync.replicas: must be a string, number or boolean, got list",
        ),
        (
            lambda t: t.replace("  namespace: novamind-ml\n", "  namespce: novamind-ml\n", 1),
            "/metadata/namespce: unknown field of V1ObjectMeta",
        ),
        (
            lambda t: t.replace("kafka.strimzi.io/v1beta2", "kafka.strimzi.io/v1beta1", 1),
            "/apiVersion: expected kafka.strimzi.io/v1beta2",
        ),
    ],
)
def test_a_broken_kafka_topic_is_refused_naming_the_field(edit, expected):
    broken = edit(TOPICS_YAML.read_text())
    problems = validate_documents(broken)
    assert problems, "the edit did not break anything"
    assert any(expected in p for p in problems), problems
    # only the edited document is blamed
    assert all(p.startswith("document 1 (KafkaTopic ") for p in problems), problems


def test_every_problem_of_a_topic_is_named_at_once():
    bad = (
        "apiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaTopic\n"
        "metadata: {name: novamind.x}\nspec: {partitions: 0, retention: 7d}\n"
    )
    problems = " | ".join(validate_documents(bad))
    for field in ("/metadata/labels", "/spec/partitions", "/spec/retention"):
        assert field in problems


def test_topic_name_may_differ_from_the_resource_name():
    text = TOPICS_YAML.read_text().replace(FIRST, "name: symptom-updates\n", 1)
    text = text.replace("  partitions: 6\n", "  topicName: Novamind_Updates\n  partitions: 6\n", 1)
    assert validate_documents(text) == []


def test_other_strimzi_kinds_are_not_waved_through():
    doc = "apiVersion: kafka.strimzi.io/v1beta2\nkind: Kafka\nmetadata: {name: novamind-kafka}\n"
    assert validate_documents(doc) == [
        "document 1 (Kafka novamind-kafka): unsupported Strimzi kind 'Kafka'"
    ]


def test_deploy_validate_names_the_file_and_the_field(tmp_path):
    from novamind_core.cli import app

    broken = tmp_path / "topics.yaml"
    broken.write_text(TOPICS_YAML.read_text().replace("partitions: 6", "partitions: 0", 1))
    result = CliRunner().invoke(app, ["deploy", "validate", str(broken)])
    assert result.exit_code == 1
    output = " ".join(result.output.split())  # the console wraps long lines
    assert "topics.yaml" in output and "/spec/partitions" in output


# --- the Deployment, Service and HorizontalPodAutoscaler ---------------------------------


def test_probes_point_at_the_health_endpoints_on_8090():
    container = _container()
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 8090}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 8090}
    assert [p["containerPort"] for p in container["ports"]] == [8090]
    assert container["args"] == ["twin", "serve", "--host", "0.0.0.0", "--port", "8090"]


def test_metrics_are_scraped_on_8090():
    annotations = _one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8090"
    assert annotations["prometheus.io/path"] == "/metrics"


def test_runs_as_non_root_on_a_read_only_root_filesystem():
    pod = _one("Deployment")["spec"]["template"]["spec"]
    container = _container()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    # the writable places are emptyDirs: /tmp and the data directory
    empty = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts["/tmp"] in empty
    env = {e["name"]: e for e in container["env"]}
    data_dir = env["NOVAMIND_DATA_DIR"]["value"]
    assert any(data_dir.startswith(path.rstrip("/") + "/") for path in mounts if path != "/tmp")
    assert all(mounts[path] in empty for path in mounts)


def test_resources_and_replicas():
    deployment = _one("Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert _container()["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }


def test_secrets_come_from_the_secret_never_inline():
    env = {e["name"]: e for e in _container()["env"]}
    for name, key in {
        "NOVAMIND_API_KEY": "api_key",
        "NOVAMIND_ENCRYPTION_KEY": "encryption_key",
        "NOVAMIND_AUDIT_KEY": "audit_key",
        "NOVAMIND_REDIS_URL": "redis_url",
    }.items():
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "ml-secrets", "key": key}
    for name in ("NOVAMIND_TWIN_FORECASTER_URL", "NOVAMIND_KAFKA_BOOTSTRAP"):
        assert env[name]["valueFrom"]["configMapKeyRef"]["name"] == "ml-config"
    assert not any("value" in e for n, e in env.items() if "KEY" in n or "SECRET" in n)


def test_the_service_and_the_autoscaler_point_at_the_deployment():
    deployment, service, hpa = (
        _one(k) for k in ("Deployment", "Service", "HorizontalPodAutoscaler")
    )
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(8090, 8090)]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": deployment["apiVersion"],
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    namespaces = {d["metadata"]["namespace"] for d in _docs(TWIN_YAML) + _docs(TOPICS_YAML)}
    assert namespaces == {"novamind-ml"}


def test_a_typo_in_the_deployment_is_refused():
    broken = TWIN_YAML.read_text().replace("readinessProbe:", "readinesProbe:")
    assert any("'readinesProbe' was unexpected" in p for p in validate_documents(broken))


def test_every_key_the_twin_reads_is_in_the_config_map_or_the_secret():
    config = yaml.safe_load((MANIFESTS / "base" / "configmap.yaml").read_text())["data"]
    secret = yaml.safe_load((MANIFESTS / "base" / "secret.example.yaml").read_text())
    missing = []
    for entry in _container()["env"]:
        source = entry.get("valueFrom", {})
        if "configMapKeyRef" in source and source["configMapKeyRef"]["key"] not in config:
            missing.append(f"ml-config/{source['configMapKeyRef']['key']}")
        ref = source.get("secretKeyRef")
        if ref and not ref.get("optional") and ref["key"] not in secret["stringData"]:
            missing.append(f"ml-secrets/{ref['key']}")
    assert missing == []
