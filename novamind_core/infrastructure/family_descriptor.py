"""What the platform needs to know about a model family, and nothing it can work out itself.

A family (symptom forecasting, biometric correlation, pharmacogenomics) writes its data
preparation, models, pipeline steps and serving class in its own package under
``novamind_core/families/`` and describes itself with one ``Family``. The shared code —
the `novamind` command, the server, the drift monitor, the generic components — reads the
descriptors from ``novamind_core.families`` and never asks which family it is handling.

Heavy parts (the serving class, the history source, the review content, the pipeline
function) are named by import path (``"package.module:attribute"``) and imported only
when used, so that reading the registry costs nothing: `novamind --help` stays instant.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from novamind_core.domain.errors import ValidationError


def load(path: str, fresh: bool = False) -> Any:
    """The attribute named by ``"package.module:attribute"``; ``fresh``: run the module
    again (a pipeline is built when its module runs, from the settings of that moment)."""
    module_name, _, attribute = path.partition(":")
    module = importlib.import_module(module_name)
    if fresh:
        module = importlib.reload(module)
    return getattr(module, attribute)


ParamCheck = Callable[[dict, Any], dict]  # (params, settings) -> params, or ValidationError


@dataclass(frozen=True)
class PipelineEntry:
    """A KFP pipeline the `novamind pipeline` commands can run, compile and submit."""

    name: str
    function: str  # "pipelines.module:pipeline_function"
    description: str
    check: ParamCheck | None = None  # rejects what would fail later, before any step runs

    def load(self, fresh: bool = False):
        return load(self.function, fresh)

    def parse(self, pairs: list[str]) -> dict:
        """``key=value`` pairs, typed by the pipeline function's own parameter defaults; a
        text value ``@PATH`` is the content of the file at PATH (e.g. a JSON document)."""
        defaults = self.defaults()
        params = {}
        for pair in pairs:
            key, sep, raw = pair.partition("=")
            if not sep:
                raise ValidationError(f"--param expects key=value, got {pair!r}")
            if key not in defaults:
                raise ValidationError(f"unknown parameter {key!r}; known: {', '.join(defaults)}")
            kind = type(defaults[key])
            if kind is str and raw.startswith("@"):
                raw = _file_text(key, raw[1:])
            params[key] = _typed(key, raw, kind)
        return params

    def defaults(self) -> dict[str, Any]:
        signature = inspect.signature(self.load().pipeline_func)
        return {name: p.default for name, p in signature.parameters.items()}

    def checked(self, params: dict, settings) -> dict:
        """The parameters after the pipeline's own checks, limited to those it accepts."""
        params = self.check(dict(params), settings) if self.check else dict(params)
        accepted = self.defaults()
        return {k: v for k, v in params.items() if k in accepted}


def _file_text(key: str, path: str) -> str:
    from pathlib import Path

    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(
            f"parameter {key}: cannot read {path!r} ({exc.strerror or exc})"
        ) from None


def _typed(key: str, raw: str, kind: type) -> Any:
    try:
        if kind is bool:
            if raw.lower() not in {"true", "false", "1", "0"}:
                raise ValueError
            return raw.lower() in {"true", "1"}
        return kind(raw)
    except ValueError:
        raise ValidationError(f"parameter {key} must be a {kind.__name__}, got {raw!r}") from None


@dataclass(frozen=True)
class MetricColumn:
    """A headline figure of a registered version, read from its ``metrics`` tag."""

    header: str
    key: str
    format: str = ".3f"

    def render(self, metrics: Mapping[str, float]) -> str:
        value = metrics.get(self.key)
        return "-" if value is None else format(value, self.format)


@dataclass(frozen=True)
class Family:
    """One model family, as the shared platform sees it."""

    name: str
    model_name: str  # the registered model in MLflow
    pipelines: tuple[PipelineEntry, ...]  # the first one trains the model
    serving_class: str  # a subclass of infrastructure.serving.family_model.FamilyModel
    history_source: str  # (store, audit) -> (pseudonym, days) -> daily history or None
    review_content: str  # what `models review` shows beyond the shared rows
    drift_features: tuple[str, ...]  # monitored in its payloads against its reference
    headline_metrics: tuple[MetricColumn, ...] = field(default=())

    @property
    def training_pipeline(self) -> PipelineEntry:
        return self.pipelines[0]
