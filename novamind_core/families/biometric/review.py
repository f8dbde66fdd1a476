"""What a reviewer sees of a correlator beyond the shared rows: the analysis' figures
beside the champion's, the strongest relations, the directed edges, and, when the run
was told what to expect, what it recovered."""

from __future__ import annotations

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
        tables = [relations, edges]
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


CORRELATION_REVIEW = CorrelationReview()
