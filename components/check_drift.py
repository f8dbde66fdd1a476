"""Component: judge drift of a champion's logged payloads; output the verdict.

The verdict is the return value (drift, no_drift, insufficient_data), not a NamedTuple: the KFP
local runner cannot resolve a NamedTuple field inside a ``dsl.If`` condition (kfp 2.17).
"""

from kfp import dsl
from kfp.dsl import HTML, Metrics, Output

from components.image import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def check_drift(
    model: str,
    since: str,
    min_samples: int,
    report: Output[HTML],
    metrics: Output[Metrics],
) -> str:
    import time
    from datetime import datetime
    from pathlib import Path

    from novamind_core.families import family_of
    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.kfp.step_runner import announce
    from novamind_core.infrastructure.monitoring.drift_check import run_drift_check

    started = time.perf_counter()
    check = run_drift_check(
        model,
        family_of(model).drift_features,
        datetime.fromisoformat(since) if since else None,
        out=composition.location().child("drift", model),
        min_samples=min_samples or None,
        actor="drift-monitor-pipeline",
    )
    Path(report.path).parent.mkdir(parents=True, exist_ok=True)
    page = check.report.html if check.report is not None else f"<p>{check.result.summary()}</p>"
    Path(report.path).write_text(page, encoding="utf-8")
    result = check.result
    metrics.log_metric("drift_detected", float(result.status.value == "drift"))
    metrics.log_metric("current_rows", float(result.current_rows))
    for column in result.columns:
        if column.judged:
            metrics.log_metric(f"drift_score_{column.column}", float(column.score))
    print(f"{model} v{result.version}: {result.summary()}")
    announce(
        "check_drift",
        time.perf_counter() - started,
        {"verdict": result.status.value, "current_rows": result.current_rows},
        {"drift": f"{model} version {result.version}: {result.summary()}"},
    )
    return result.status.value
