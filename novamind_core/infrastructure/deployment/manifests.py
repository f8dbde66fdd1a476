"""Render the InferenceService of a champion, validate manifests, apply them with KServe.

Validation: built-in kinds (Namespace, ConfigMap, Secret, ...) against the Kubernetes
OpenAPI schemas shipped by ``kubernetes-validate``; the KServe InferenceService against
the model classes generated from KServe's OpenAPI spec (package ``kserve``): every key
must be a declared field of its object, of the declared type, and required fields set.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from string import Template
from typing import Any

import yaml

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
        kind = doc.get("kind", "?")
        where = f"document {number} ({kind} {doc.get('metadata', {}).get('name', '?')})"
        if doc.get("apiVersion", "").startswith("serving.kserve.io/"):
            problems += [f"{where}: {p}" for p in _validate_kserve(doc)]
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
