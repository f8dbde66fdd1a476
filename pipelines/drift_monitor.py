"""Drift-monitor pipeline: judge a champion's payloads; on confirmed drift, retrain it."""

from kfp import dsl

from components.check_drift import check_drift
from components.trigger_retraining import trigger_retraining
from novamind_core.families import DEFAULT_MODEL
from novamind_core.infrastructure.kfp.cluster import DATA, TRAINING, wire

PIPELINE_NAME = "drift-monitor"


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Compare a served champion's logged payloads with its training reference "
    "(Evidently); when drift is confirmed, trigger its family's training pipeline.",
)
def drift_monitor(
    model: str = DEFAULT_MODEL,
    training_pipeline: str = "",
    since: str = "",
    min_samples: int = 0,
    retrain: bool = True,
    retrain_mode: str = "local",
    kfp_host: str = "",
    training_params: str = "",
    run_tag: str = "",
):
    """``training_pipeline`` empty: the training pipeline of the model's family."""
    verdict = wire(check_drift(model=model, since=since, min_samples=min_samples), DATA)
    # nested conditions (KFP builds one sub-DAG per condition)
    with dsl.If(verdict.outputs["Output"] == "drift", name="drift-confirmed"):  # noqa: SIM117
        with dsl.If(retrain == True, name="retraining-enabled"):  # noqa: E712
            wire(
                trigger_retraining(
                    model=model,
                    pipeline=training_pipeline,
                    drift_status=verdict.outputs["Output"],
                    mode=retrain_mode,
                    kfp_host=kfp_host,
                    training_params=training_params,
                ),
                TRAINING,  # in local mode it runs the whole training pipeline itself
            )
