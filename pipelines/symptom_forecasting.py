"""Symptom forecasting pipeline: validate → impute → split → train ×2 → ensemble →
evaluate and drift reference → register."""

from kfp import dsl

from components.forecasting.build_reference import build_reference
from components.forecasting.evaluate import evaluate
from components.forecasting.fit_ensemble import fit_ensemble
from components.forecasting.impute import impute
from components.forecasting.register import register
from components.forecasting.split import split
from components.forecasting.train_transformer import train_transformer
from components.forecasting.tune_xgboost import tune_xgboost
from components.forecasting.validate import validate
from novamind_core.infrastructure.kfp.cluster import DATA, TRAINING, TUNING, wire

PIPELINE_NAME = "symptom-forecasting"


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Train, evaluate and register the symptom "
    "forecaster (quantile Transformer + Optuna-tuned XGBoost ensemble).",
)
def symptom_forecasting(
    dataset_version: str = "latest",
    target: str = "mood",
    horizon: int = 7,
    epochs: int = 5,
    trials: int = 8,
    seed: int = 7,
    encoder_layers: int = 2,
    decoder_layers: int = 2,
    use_ensemble: bool = True,
    transformer_precision: str = "float32",
    optuna_storage: str = "",
    study_name: str = "",
    run_tag: str = "",
    launched_by: str = "",
):
    checked = wire(
        validate(
            dataset_version=dataset_version,
            target=target,
            horizon=horizon,
            seed=seed,
            run_tag=run_tag,
        ),
        DATA,
    )
    version = checked.outputs["version"]
    parent = checked.outputs["parent_run_id"]
    common = {"target": target, "horizon": horizon, "seed": seed, "parent_run_id": parent}
    grid = wire(impute(dataset_version=version, **common), DATA)
    plan = wire(split(grid=grid.outputs["grid"], **common), DATA)
    shared = {"grid": grid.outputs["grid"], "plan": plan.outputs["plan"], **common}
    tf = wire(
        train_transformer(
            epochs=epochs, encoder_layers=encoder_layers, decoder_layers=decoder_layers, **shared
        ),
        TRAINING,
    )
    xg = wire(
        tune_xgboost(trials=trials, optuna_storage=optuna_storage, study_name=study_name, **shared),
        TUNING,
    )
    ens = wire(
        fit_ensemble(
            transformer=tf.outputs["model"],
            xgboost=xg.outputs["model"],
            use_ensemble=use_ensemble,
            transformer_precision=transformer_precision,
            **shared,
        ),
        DATA,
    )
    ev = wire(evaluate(bundle=ens.outputs["bundle"], **shared), DATA)
    ref = wire(build_reference(bundle=ens.outputs["bundle"], **shared), DATA)
    register_task = register(
        bundle=ens.outputs["bundle"],
        evaluation=ev.outputs["evaluation"],
        charts=ev.outputs["charts"],
        reference=ref.outputs["reference"],
        dataset_version=version,
        dataset_fingerprint=checked.outputs["fingerprint"],
        parent_run_id=parent,
        launched_by=launched_by,
    )
    wire(register_task, DATA)
