"""What a reviewer sees of a medication-response version beyond the shared rows: held-out
discrimination and calibration of the GNN beside its baselines and the champion, and the
phenotype effects it recovered."""

from __future__ import annotations

from novamind_core.application.review_model import ReviewTable

MODELS = ("gnn", "genotype_blind", "xgboost")
HEADS = ("response", "side_effect")


def _metric(evaluation: dict | None, model: str, head: str, name: str) -> str:
    try:
        value = evaluation["models"][model][head][name]
    except (KeyError, TypeError):
        return "-"
    return "-" if value is None or value != value else f"{value:.3f}"


def _share(value) -> str:
    return "-" if value is None else f"{value:.3f}"


class PgxReview:
    charts_title = "Reliability on held-out patients (GNN, genotype-blind, XGBoost)"
    charts_folder = "charts"

    def summary_rows(self, candidate: dict, champion: dict | None) -> list[tuple[str, str, str]]:
        rows = [
            (
                "held-out trials",
                str(candidate.get("held_out_trials", "-")),
                str((champion or {}).get("held_out_trials", "-")),
            )
        ]
        for head in HEADS:
            for name, label in (("roc_auc", "ROC-AUC"), ("brier", "Brier"), ("ece", "ECE")):
                rows.append(
                    (
                        f"GNN {head.replace('_', ' ')} {label}",
                        _metric(candidate, "gnn", head, name),
                        _metric(champion, "gnn", head, name),
                    )
                )
        return rows

    def tables(self, candidate: dict, champion: dict | None) -> list[ReviewTable]:
        models = ReviewTable(
            "held-out patients: GNN against its baselines",
            (
                "model",
                "response AUC",
                "response Brier",
                "side-effect AUC",
                "side-effect Brier",
                "side-effect ECE",
            ),
            [
                [
                    model,
                    _metric(candidate, model, "response", "roc_auc"),
                    _metric(candidate, model, "response", "brier"),
                    _metric(candidate, model, "side_effect", "roc_auc"),
                    _metric(candidate, model, "side_effect", "brier"),
                    _metric(candidate, model, "side_effect", "ece"),
                ]
                for model in MODELS
            ]
            + (
                [
                    [
                        "planted (ceiling)",
                        *(
                            _metric({"models": {"c": candidate["planted_ceiling"]}}, "c", h, n)
                            for h, n in (
                                ("response", "roc_auc"),
                                ("response", "brier"),
                                ("side_effect", "roc_auc"),
                                ("side_effect", "brier"),
                                ("side_effect", "ece"),
                            )
                        ),
                    ]
                ]
                if candidate.get("planted_ceiling")
                else []
            ),
        )
        effects = ReviewTable(
            "side-effect risk by phenotype of the drug's first gene (held-out trials)",
            ("phenotype", "trials", "observed", "planted", "GNN", "genotype-blind", "XGBoost"),
            [
                [
                    r["phenotype"],
                    str(r["trials"]),
                    _share(r.get("side_effect_observed")),
                    _share(r.get("side_effect_planted")),
                    _share(r.get("side_effect_gnn")),
                    _share(r.get("side_effect_genotype_blind")),
                    _share(r.get("side_effect_xgboost")),
                ]
                for r in candidate.get("phenotype_effects", [])
            ],
        )
        return [models, effects]


PGX_REVIEW = PgxReview()
