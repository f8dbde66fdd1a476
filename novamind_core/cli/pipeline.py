"""``novamind pipeline``: run pipelines locally, compile them, submit them to a cluster."""

from __future__ import annotations

import inspect
import time
import uuid
from pathlib import Path

import typer

from novamind_core.cli.common import console, handles_errors, settings_or_exit
from novamind_core.domain.errors import (
    NotFoundError,
    ServiceUnavailableError,
    ValidationError,
)

app = typer.Typer(help="Run, compile and submit the training pipelines.", no_args_is_help=True)

PIPELINES = {
    "symptom-forecasting": "pipelines.symptom_forecasting:symptom_forecasting",
    "deploy-champion": "pipelines.deploy_champion:deploy_champion",
    "drift-monitor": "pipelines.drift_monitor:drift_monitor",
}


def load_pipeline(name: str):
    if name not in PIPELINES:
        raise NotFoundError(f"unknown pipeline {name!r}; known: {', '.join(PIPELINES)}")
    import importlib

    module, attribute = PIPELINES[name].split(":")
    return getattr(importlib.import_module(module), attribute)


def parse_params(pipeline, pairs: list[str]) -> dict:
    """``key=value`` pairs, typed by the pipeline's own parameter defaults."""
    defaults = {
        name: p.default for name, p in inspect.signature(pipeline.pipeline_func).parameters.items()
    }
    params = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise ValidationError(f"--param expects key=value, got {pair!r}")
        if key not in defaults:
            raise ValidationError(f"unknown parameter {key!r}; known: {', '.join(defaults)}")
        kind = type(defaults[key])
        try:
            if kind is bool:
                if raw.lower() not in {"true", "false", "1", "0"}:
                    raise ValueError
                params[key] = raw.lower() in {"true", "1"}
            else:
                params[key] = kind(raw)
        except ValueError:
            raise ValidationError(
                f"parameter {key} must be a {kind.__name__}, got {raw!r}"
            ) from None
    return params


def check_params(params: dict) -> dict:
    """Reject what would fail later, before any step runs."""
    settings = settings_or_exit()
    horizon = params.get("horizon", 7)
    if not 1 <= horizon <= settings.max_forecast_horizon:
        raise ValidationError(
            f"horizon {horizon} is outside 1..{settings.max_forecast_horizon} "
            "(NOVAMIND_MAX_FORECAST_HORIZON)"
        )
    for key in ("epochs", "trials"):
        if params.get(key, 1) < 1:
            raise ValidationError(f"{key} must be at least 1")
    target = params.get("target", "mood")
    if target not in {"phq9", "gad7", "mood"}:
        raise ValidationError(f"target must be one of phq9, gad7, mood; got {target!r}")
    precision = params.get("transformer_precision", "float32")
    if precision not in {"float32", "float16", "bfloat16"}:
        raise ValidationError(
            f"transformer_precision must be float32, float16 or bfloat16; got {precision!r}"
        )
    if params.get("retrain_mode", "local") not in {"local", "cluster"}:
        raise ValidationError(
            f"retrain_mode must be local or cluster; got {params['retrain_mode']!r}"
        )
    if params.get("training_params"):
        import json

        try:
            extra = json.loads(params["training_params"])
        except ValueError:
            extra = None
        if not isinstance(extra, dict):
            raise ValidationError(
                'training_params must be a JSON object, e.g. {"epochs": 2, "trials": 4}'
            )
    if params.get("since"):
        from novamind_core.cli.monitor import parse_since

        parse_since(params["since"])
    params.setdefault("use_ensemble", settings.use_ensemble)
    return params


def _accepted(pipeline, params: dict) -> dict:
    names = inspect.signature(pipeline.pipeline_func).parameters
    return {k: v for k, v in params.items() if k in names}


@app.command()
@handles_errors
def run(
    name: str = typer.Argument(..., help="Pipeline name, e.g. symptom-forecasting."),
    param: list[str] = typer.Option([], "--param", "-p", help="key=value, repeatable."),
) -> None:
    """Run a pipeline on the KFP local runner (every step in this environment)."""
    import kfp.local

    from novamind_core.cli.data import open_store
    from novamind_core.infrastructure.registry import tracking

    pipeline = load_pipeline(name)
    params = _accepted(pipeline, check_params(parse_params(pipeline, param)))
    if "dataset_version" in inspect.signature(pipeline.pipeline_func).parameters:
        version = open_store().manifest(params.get("dataset_version", "latest"))["version"]
        params["dataset_version"] = version
    else:
        version = "-"
    params["run_tag"] = uuid.uuid4().hex
    settings = settings_or_exit()
    root = (settings.data_dir / "kfp").resolve()
    kfp.local.init(runner=kfp.local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    console.print(f"running [bold]{name}[/] on dataset {version} with {params}")
    started = time.perf_counter()
    try:
        pipeline(**params)
    except Exception as exc:
        tracking.fail_tagged_runs(params["run_tag"])
        raise ServiceUnavailableError(
            f"pipeline {name} failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]} "
            "(the step's log is above; nothing was registered)"
        ) from None
    console.print(
        f"[green]pipeline {name} finished[/] in {time.perf_counter() - started:.0f} s; "
        f"outputs under {root}"
    )


@app.command()
@handles_errors
def compile(
    name: str = typer.Argument(..., help="Pipeline name."),
    out: Path = typer.Option(..., help="Where to write the KFP IR YAML."),
) -> None:
    """Compile a pipeline to KFP IR YAML for a Kubeflow cluster."""
    from kfp import compiler

    compiler.Compiler().compile(load_pipeline(name), str(out))
    console.print(f"compiled {name} to {out}")


@app.command()
@handles_errors
def submit(
    name: str = typer.Argument(..., help="Pipeline name."),
    host: str = typer.Option(..., help="KFP API endpoint, e.g. http://localhost:8888."),
    param: list[str] = typer.Option([], "--param", "-p", help="key=value, repeatable."),
    experiment: str = typer.Option("novamind", help="KFP experiment name."),
) -> None:
    """Submit a pipeline run to a Kubeflow Pipelines cluster."""
    import kfp

    pipeline = load_pipeline(name)
    params = _accepted(pipeline, check_params(parse_params(pipeline, param)))
    params.setdefault("run_tag", uuid.uuid4().hex)
    try:
        client = kfp.Client(host=host)
        result = client.create_run_from_pipeline_func(
            pipeline, arguments=params, experiment_name=experiment
        )
    except Exception as exc:  # any transport or API failure: say which host, and why
        raise ServiceUnavailableError(
            f"could not submit to KFP at {host}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else 'no answer'}"
        ) from None
    console.print(f"submitted {name}: run id {result.run_id}")
