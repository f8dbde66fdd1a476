"""What a reviewer sees of a forecaster beyond the shared rows: mean errors beside the
champion's, and per horizon the error against the baselines and the interval coverage."""

from __future__ import annotations

from novamind_core.application.review_model import ReviewTable

PARTS = {"test": "test", "heldout": "held-out"}


def _mean(evaluation: dict | None, part: str, model: str, metric: str) -> str:
    try:
        values = [v for v in evaluation[part]["models"][model][metric] if v == v]
    except (KeyError, TypeError):
        return "-"
    return f"{sum(values) / len(values):.3f}" if values else "-"


def _pick(source: dict, model: str, metric: str, h: int) -> str:
    try:
        return f"{source[model][metric][h]:.3f}"
    except (KeyError, IndexError, TypeError):
        return "-"


class ForecastReview:
    charts_title = "Fan charts (held-out patients)"
    charts_folder = "fan_charts"

    def summary_rows(self, candidate: dict, champion: dict | None) -> list[tuple[str, str, str]]:
        rows = [
            (
                f"{label} MASE (mean)",
                *(_mean(e, part, "ensemble", "mase") for e in (candidate, champion)),
            )
            for part, label in PARTS.items()
        ]
        rows.append(
            (
                "80% interval coverage (test)",
                *(_mean(e, "test", "ensemble", "coverage") for e in (candidate, champion)),
            )
        )
        return rows

    def tables(self, candidate: dict, champion: dict | None) -> list[ReviewTable]:
        headers = (
            "horizon",
            "challenger MASE",
            "champion MASE",
            "seasonal naive MASE",
            "AutoETS MASE",
            "challenger coverage",
        )
        tables = []
        for part, result in candidate.items():
            models = result["models"]
            theirs = (champion or {}).get(part, {}).get("models", {})
            rows = [
                [
                    str(h + 1),
                    f"{ours:.3f}",
                    _pick(theirs, "ensemble", "mase", h),
                    _pick(models, "seasonal_naive", "mase", h),
                    _pick(models, "auto_ets", "mase", h),
                    _pick(models, "ensemble", "coverage", h),
                ]
                for h, ours in enumerate(models["ensemble"]["mase"])
            ]
            title = f"{part} windows: per-horizon MASE (lower is better) and coverage"
            tables.append(ReviewTable(title, headers, rows))
        return tables


FORECAST_REVIEW = ForecastReview()
