"""What a reviewer sees of a correlator beyond the shared rows: the analysis' figures
beside the champion's, the strongest relations, the directed edges, and, when the run
was told what to expect, what it recovered."""

from __future__ import annotations

import numpy as np

from novamind_core.application.review_model import ReviewTable
from novamind_core.families.biometric.output import format_q


def _get(evaluation: dict | None, *path, fmt: str = "{}") -> str:
    value = evaluation
    try:
        for key in path:
            value = value[key]
    except (KeyError, TypeError):
        return "-"
    return fmt.format(value)


class CorrelationReview:
    charts_title = "Lag × pair heatmap (* significant) and directed relations"
    charts_folder = "charts"

    def summary_rows(self, candidate: dict, champion: dict | None) -> list[tuple[str, str, str]]:
        rows = [
            ("patients analysed", "patients", "{}"),
            ("tests", "tests", "{}"),
            ("significant relations", "significant", "{}"),
            ("significant and |r| ≥ threshold", "clinically_relevant", "{}"),
            ("directed edges", "edges", "{}"),
        ]
        out = [(label, _get(candidate, key), _get(champion, key)) for label, key, _ in rows]
        out.append(
            (
                "symptom predictor (mean MASE, held-out patients)",
                _selected(candidate),
                _selected(champion),
            )
        )
        out.append(
            (
                "null p < 0.05 rate (broken links)",
                _get(candidate, "null", "rejection_rate", fmt="{:.3f}"),
                _get(champion, "null", "rejection_rate", fmt="{:.3f}"),
            )
        )
        return out

    def tables(self, candidate: dict, champion: dict | None) -> list[ReviewTable]:
        relations = ReviewTable(
            "strongest significant relations",
            ("biometric", "symptom", "lag", "r", "95% CI", "q", "n_eff"),
            [
                [
                    r["biometric"],
                    r["symptom"],
                    str(r["lag_days"]),
                    f"{r['coefficient']:+.3f}",
                    f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]",
                    format_q(r["q_value"]),
                    f"{r['n_effective']:,.0f}",
                ]
                for r in candidate.get("strongest", [])
            ],
        )
        edges = ReviewTable(
            "directed relations",
            ("biometric", "→ symptom", "lag", "relation", "strength", "q"),
            [
                [
                    e["biometric"],
                    e["symptom"],
                    str(e["lag_days"]),
                    e["relation"],
                    f"{e['strength']:+.3f}",
                    format_q(e["q_value"]),
                ]
                for e in candidate.get("causal_edges", [])
            ],
        )
        tables = [relations, edges, *predictor_tables(candidate.get("predictors"))]
        expected = candidate.get("expected")
        if expected:
            tables.append(
                ReviewTable(
                    "expected relations (given to the run)",
                    ("biometric", "symptom", "expected lag", "strongest lag", "recovered"),
                    [
                        [
                            e["biometric"],
                            e["symptom"],
                            str(e["lag_days"]),
                            str(e["strongest_lag"]),
                            "yes" if e["recovered"] else "NO",
                        ]
                        for e in expected["relations"]
                    ],
                )
            )
        return tables


def _selected(evaluation: dict | None) -> str:
    predictors = (evaluation or {}).get("predictors")
    if not predictors:
        return "-"
    name = predictors["selected"]
    return f"{name} {predictors['test'][name]['mean_mase']:.3f}"


def predictor_tables(predictors: dict | None) -> list[ReviewTable]:
    """Held-out accuracy of every predictor beside the baselines, what training cost, and
    the evidence behind the explanations (planted lags, alignment)."""
    if not predictors:
        return []
    from novamind_core.families.biometric.prediction_windows import TARGETS

    test = predictors["test"]
    accuracy = ReviewTable(
        "symptom predictors on held-out patients (mean MASE over 7 horizons; MAE day 1; "
        f"80% interval coverage) — served: {predictors['selected']}",
        ("model", *TARGETS, "mean", "MAE day 1 (phq9/gad7/mood)", "coverage"),
        [
            [
                name,
                *(f"{m[s]['mean_mase']:.3f}" for s in TARGETS),
                f"{m['mean_mase']:.3f}",
                " / ".join(f"{m[s]['mae'][0]:.2f}" for s in TARGETS),
                " / ".join(f"{np.nanmean(m[s]['coverage']):.2f}" for s in TARGETS)
                if "coverage" in m[TARGETS[0]]
                else "-",
            ]
            for name, m in sorted(test.items(), key=lambda item: item[1]["mean_mase"])
        ],
    )
    training = ReviewTable(
        "training",
        ("model", "seconds", "epochs", "peak MiB"),
        [
            [name, f"{t['training_seconds']:.1f}", f"{t['epochs']}", f"{t['peak_rss_mib']:,.0f}"]
            for name, t in predictors["training"].items()
        ],
    )
    evidence_rows = []
    for name, extra in predictors["extras"].items():
        for lead in extra.get("planted_lags", []):
            evidence_rows.append(
                [
                    name,
                    f"attention on {lead['biometric']} {lead['lag_days']} d before "
                    f"{lead['symptom']} (horizon {lead['horizon']})",
                    f"{lead['mean_weight']:.3f} (even share {lead['even_share']:.3f})",
                ]
            )
        retrieval = extra.get("retrieval")
        if retrieval:
            evidence_rows.append(
                [
                    name,
                    "true pair retrieved among in-batch candidates (top-1)",
                    f"{retrieval['top1']:.3f} (chance {retrieval['chance_top1']:.3f})",
                ]
            )
    evidence = ReviewTable("explanations and alignment", ("model", "check", "value"), evidence_rows)
    verdict = ReviewTable("verdict", ("",), [[line] for line in predictors["verdict"]])
    return [accuracy, verdict, training, evidence]


CORRELATION_REVIEW = CorrelationReview()
