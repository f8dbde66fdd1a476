"""Render the InferenceService of a champion, validate manifests, apply them with KServe.

Validation: built-in kinds (Namespace, ConfigMap, Secret, ...) against the Kubernetes
OpenAPI schemas shipped by ``kubernetes-validate``; the KServe InferenceService against
the model classes generated from KServe's OpenAPI spec (package ``kserve``): every key
must be a declared field of its object, of the declared type, and required fields set.
Strimzi's ``KafkaTopic`` (a custom resource, in neither) against the pydantic model below,
written from the ``kafka.strimzi.io/v1beta2`` CRD, plus the rules the API server and the
Topic Operator apply to its names.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from string import Template
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from novamind_core.domain.errors import NotFoundError, ServiceUnavailableError, ValidationError

MANIFESTS = Path(__file__).resolve().parents[3] / "manifests"
TEMPLATE = MANIFESTS / "inference" / "inferenceservice.yaml.tmpl"
KUBERNETES_VERSION = "1.30"


def render_inference_service(registry, name: str, image: str) -> str:
    """The InferenceService YAML for the current champion of ``name``."""
    from novamind_core.domain.model_registry import CHAMPION

    champion = registry.alias(name, CHAMPION)
    if champion is None:
        raise NotFoundError(f"{name} has no champion: approve a version first")
    source = registry.client.get_model_version(name, champion.version).source
    return Template(TEMPLATE.read_text()).substitute(
        name=name,
        version=champion.version,
        image=image,
        model_uri=f"models:/{name}/{champion.version}",
        storage_uri=source,
        dataset_version=champion.tags.get("dataset_version", ""),
        reviewer=champion.tags.get("decision.reviewer", ""),
    )


def render_validated(registry, name: str, image: str) -> str:
    """The champion's InferenceService, checked against the schemas (ValidationError)."""
    text = render_inference_service(registry, name, image)
    problems = validate_documents(text)
    if problems:
        raise ValidationError("rendered manifest is invalid:\n  " + "\n  ".join(problems))
    return text


def validate_documents(text: str) -> list[str]:
    """Problems of every document in a YAML stream; empty when all are valid."""
    problems = []
    for number, doc in enumerate(yaml.safe_load_all(text), start=1):
        if not doc:
            continue
        if not isinstance(doc, dict):
            problems.append(f"document {number}: expected a mapping, got {type(doc).__name__}")
            continue
        kind = doc.get("kind", "?")
        metadata = doc.get("metadata")
        name = metadata.get("name", "?") if isinstance(metadata, dict) else "?"
        where = f"document {number} ({kind} {name})"
        api_version = doc.get("apiVersion")
        api_version = api_version if isinstance(api_version, str) else ""
        if api_version.startswith("serving.kserve.io/"):
            problems += [f"{where}: {p}" for p in _validate_kserve(doc)]
        elif api_version.startswith(f"{STRIMZI_GROUP}/"):
            problems += [f"{where}: {p}" for p in _validate_strimzi(doc)]
        else:
            problems += [f"{where}: {p}" for p in _validate_kubernetes(doc)]
    return problems


def _validate_kubernetes(doc: dict) -> list[str]:
    import kubernetes_validate

    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = "/".join(str(p) for p in exc.path)
        return [f"{path or '(root)'}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"no Kubernetes schema for it: {exc}"]
    return []


def _validate_kserve(doc: dict) -> list[str]:
    import kserve.models as km

    if doc.get("kind") != "InferenceService":
        return [f"unsupported KServe kind {doc.get('kind')!r}"]
    return _check_object(doc, km.V1beta1InferenceService, "")


# --- Strimzi KafkaTopic -------------------------------------------------------------------
# From the CRD (packaging/install/cluster-operator/043-Crd-kafkatopic.yaml): spec has
# partitions (integer, minimum 1), replicas (integer, 1..32767), config (an object whose
# values the Topic Operator takes when they are strings, numbers or booleans) and
# topicName (string; defaults to metadata.name); partitions and replicas may be left out
# (the broker's defaults then apply). The topic name follows Kafka's rules, metadata.name
# the API server's (a DNS-1123 subdomain); the Topic Operator acts only on topics labelled
# with their cluster.

STRIMZI_GROUP = "kafka.strimzi.io"
STRIMZI_API_VERSION = f"{STRIMZI_GROUP}/v1beta2"
STRIMZI_CLUSTER_LABEL = "strimzi.io/cluster"
KAFKA_TOPIC_MAX_CHARS = 249
KAFKA_TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]+")
KUBERNETES_NAME_MAX_CHARS = 253
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _topic_config_value(value: Any) -> Any:
    if isinstance(value, str | int | float | bool):  # bool is an int; float: e.g. ratios
        return value
    kind = "null" if value is None else type(value).__name__
    raise ValueError(f"must be a string, number or boolean, got {kind}")


TopicConfigValue = Annotated[Any, AfterValidator(_topic_config_value)]


class KafkaTopicSpec(BaseModel):
    """``spec`` of a Strimzi KafkaTopic (v1beta2)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    partitions: int | None = Field(default=None, ge=1)
    replicas: int | None = Field(default=None, ge=1, le=32767)
    config: dict[str, TopicConfigValue] | None = None
    topicName: str | None = None  # the CRD's own spelling


class KafkaTopicMetadata(BaseModel):
    """What a KafkaTopic needs of ``metadata``; its other fields are checked against the
    Kubernetes model (V1ObjectMeta)."""

    model_config = ConfigDict(extra="allow", strict=True)

    name: str
    labels: dict[str, str] | None = Field(default=None, validate_default=True)

    @field_validator("name")
    @classmethod
    def _kubernetes_name(cls, name: str) -> str:
        if len(name) > KUBERNETES_NAME_MAX_CHARS or not DNS_SUBDOMAIN.fullmatch(name):
            raise ValueError(
                f"{name!r} is not a valid Kubernetes name (lower-case letters, digits, '-' "
                f"and '.', starting and ending with a letter or digit, at most "
                f"{KUBERNETES_NAME_MAX_CHARS} characters); set spec.topicName for such a topic"
            )
        return name

    @field_validator("labels")
    @classmethod
    def _cluster_label(cls, labels: dict[str, str] | None) -> dict[str, str] | None:
        if not (labels or {}).get(STRIMZI_CLUSTER_LABEL):
            raise ValueError(
                f"the label {STRIMZI_CLUSTER_LABEL} is required: the Kafka cluster the topic "
                "belongs to (the Topic Operator ignores topics without it)"
            )
        return labels


class KafkaTopic(BaseModel):
    """A Strimzi ``KafkaTopic`` (kafka.strimzi.io/v1beta2)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    apiVersion: Literal["kafka.strimzi.io/v1beta2"]  # the CRD's own spelling
    kind: Literal["KafkaTopic"]
    metadata: KafkaTopicMetadata
    spec: KafkaTopicSpec | None = None
    status: dict[str, Any] | None = None  # written by the Topic Operator


_STRIMZI_MODELS = {(): KafkaTopic, ("metadata",): KafkaTopicMetadata, ("spec",): KafkaTopicSpec}


def _validate_strimzi(doc: dict) -> list[str]:
    if doc.get("kind") != "KafkaTopic":
        return [f"unsupported Strimzi kind {doc.get('kind')!r}"]
    if doc.get("apiVersion") != STRIMZI_API_VERSION:
        return [f"/apiVersion: expected {STRIMZI_API_VERSION}, got {doc.get('apiVersion')!r}"]
    try:
        KafkaTopic.model_validate(doc)
        problems = []
    except PydanticValidationError as exc:
        problems = [_pydantic_problem(error) for error in exc.errors()]
    # Checked however the model fared, so that one pass names every problem.
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    rest = {k: v for k, v in metadata.items() if k not in KafkaTopicMetadata.model_fields}
    problems += _check_object(rest, _model_class("V1ObjectMeta"), "/metadata")
    spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
    if isinstance(spec.get("topicName"), str):
        problems += _topic_name_problems(spec["topicName"], "/spec/topicName")
    elif spec.get("topicName") is None and isinstance(metadata.get("name"), str):
        problems += _topic_name_problems(metadata["name"], "/metadata/name")
    return problems


def _pydantic_problem(error: dict) -> str:
    loc = tuple(str(part) for part in error["loc"])
    path = "/" + "/".join(loc)
    owner = _STRIMZI_MODELS.get(loc[:-1])
    if error["type"] == "extra_forbidden" and owner is not None:
        known = ", ".join(f.alias or n for n, f in owner.model_fields.items())
        return f"{path}: unknown field of {owner.__name__} (known: {known})"
    if error["type"] == "missing" and owner is not None:
        return f"{path}: required by {owner.__name__}"
    if error["type"] == "value_error":  # ours: the message says what was got
        return f"{path}: {error['msg'].removeprefix('Value error, ')}"
    got = repr(error["input"])
    return f"{path}: {error['msg']} (got {got if len(got) <= 60 else got[:57] + '...'})"


def _topic_name_problems(name: str, path: str) -> list[str]:
    """Kafka's own rules for a topic name (``org.apache.kafka.common.internals.Topic``)."""
    if name in (".", "..") or not KAFKA_TOPIC_NAME.fullmatch(name):
        return [
            f"{path}: {name!r} is not a valid Kafka topic name (letters, digits, '.', '_' "
            f"and '-' only; not '.' or '..')"
        ]
    if len(name) > KAFKA_TOPIC_MAX_CHARS:
        return [
            f"{path}: a Kafka topic name has at most {KAFKA_TOPIC_MAX_CHARS} characters, "
            f"got {len(name)}"
        ]
    return []


def _model_class(type_name: str):
    import kserve.models as km
    import kubernetes.client.models as k8s

    name = type_name.strip()
    return getattr(km, name, None) or getattr(k8s, name, None)


def _check_object(value: Any, cls, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path or '(root)'}: expected an object for {cls.__name__}"]
    reverse = {json_key: attr for attr, json_key in cls.attribute_map.items()}
    problems = []
    for key, item in value.items():
        if key not in reverse:
            problems.append(f"{path}/{key}: unknown field of {cls.__name__}")
            continue
        problems += _check_value(item, cls.openapi_types[reverse[key]], f"{path}/{key}")
    required = _required_fields(cls)
    for attr in required:
        if cls.attribute_map[attr] not in value:
            problems.append(f"{path}/{cls.attribute_map[attr]}: required by {cls.__name__}")
    return problems


def _required_fields(cls) -> list[str]:
    """Fields whose setter refuses None under client-side validation."""
    required = []
    for attr in cls.openapi_types:
        setter = getattr(cls, attr, None)
        source = getattr(getattr(setter, "fset", None), "__code__", None)
        if source and "must not be `None`" in str(setter.fset.__code__.co_consts):
            required.append(attr)
    return required


def _check_value(value: Any, type_name: str, path: str) -> list[str]:
    scalar = {"str": str, "int": int, "bool": bool, "float": (int, float)}
    if value is None:
        return []
    if type_name in scalar:
        ok = isinstance(value, scalar[type_name]) and not (
            type_name == "int" and isinstance(value, bool)
        )
        return [] if ok else [f"{path}: expected {type_name}, got {type(value).__name__}"]
    if type_name == "object":
        return []
    if type_name in ("datetime", "date"):
        return [] if isinstance(value, str | dt.datetime | dt.date) else [f"{path}: not a date"]
    match = re.fullmatch(r"list\[(.+)\]", type_name)
    if match:
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [
            p for i, v in enumerate(value) for p in _check_value(v, match.group(1), f"{path}[{i}]")
        ]
    match = re.fullmatch(r"dict\((\w+), (.+)\)", type_name)
    if match:
        if not isinstance(value, dict):
            return [f"{path}: expected a mapping"]
        return [p for k, v in value.items() for p in _check_value(v, match.group(2), f"{path}/{k}")]
    cls = _model_class(type_name)
    if cls is None:
        return []  # e.g. IntOrString / Quantity kept as plain values by the clients
    if cls.__name__ in ("ResourceQuantity", "IntOrString"):
        return []
    return _check_object(value, cls, path)


def apply_manifest(text: str) -> list[str]:
    """Create or replace every InferenceService of ``text`` in the configured cluster."""
    problems = validate_documents(text)
    if problems:
        raise ValidationError("manifest is invalid:\n  " + "\n  ".join(problems))
    try:
        from kserve import KServeClient
        from kubernetes import config

        config.load_kube_config()
    except Exception as exc:  # no kubeconfig, no context, unreadable file
        raise ServiceUnavailableError(
            f"no Kubernetes cluster is configured ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); set KUBECONFIG or "
            "~/.kube/config"
        ) from None
    client = KServeClient()
    applied = []
    for doc in yaml.safe_load_all(text):
        if doc and doc.get("kind") == "InferenceService":
            name, namespace = doc["metadata"]["name"], doc["metadata"]["namespace"]
            try:
                client.get(name, namespace=namespace)
                client.replace(name, doc, namespace=namespace)
            except RuntimeError:
                client.create(doc, namespace=namespace)
            applied.append(f"{namespace}/{name}")
    return applied
