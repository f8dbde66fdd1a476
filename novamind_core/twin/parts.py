"""What the twin asks each served model, and how an answer becomes its part of the twin's
answer and the inputs of the integrated recommendations."""

from __future__ import annotations

from dataclasses import dataclass

from novamind_core.domain.twin_recommendations import ForecastPoint, MedicationOption, Relation


@dataclass(frozen=True)
class Options:
    """What a client asked for (already checked)."""

    forecast_days: int
    lookback_days: int
    include: tuple[str, ...]  # of PARTS, in this order

    def as_dict(self) -> dict:
        return {
            "forecast_days": self.forecast_days,
            "lookback_days": self.lookback_days,
            "include": list(self.include),
        }


# include name -> (answer key, registered model)
PARTS = {
    "forecast": ("symptom_forecast", "symptom-forecaster"),
    "correlations": ("biometric_correlations", "biometric-correlator"),
    "medications": ("medication_predictions", "medication-response"),
}


def request_body(part: str, pseudonym: str, options: Options) -> dict:
    """The V1 request of ``part`` for a patient named by pseudonym only (the model server
    reads the history from its store)."""
    instance: dict = {"patient_key": pseudonym}
    if part == "correlations":
        instance["lookback_days"] = options.lookback_days
    return {"instances": [instance]}


def prediction_of(answer: dict) -> dict:
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list) or len(predictions) != 1:
        raise ValueError("the model server's answer holds no prediction for the patient")
    return predictions[0]


def forecast_part(prediction: dict, options: Options) -> dict:
    """The forecast trimmed to the days asked, capped at the champion's trained horizon
    (and saying so)."""
    points = prediction.get("forecast", [])
    served = max((p["horizon"] for p in points), default=0)
    days = min(options.forecast_days, served)
    part = {
        "target": prediction.get("target"),
        "interval": prediction.get("interval"),
        "days_requested": options.forecast_days,
        "days": days,
        "forecast": [p for p in points if p["horizon"] <= days],
    }
    if options.forecast_days > served:
        part["note"] = (
            f"{options.forecast_days} days were asked for; the served champion was trained "
            f"for a {served}-day horizon, so {served} days are given"
        )
    return part


def correlations_part(prediction: dict, options: Options) -> dict:
    return {
        "lookback_days": options.lookback_days,
        "tests": prediction.get("tests", 0),
        "relations": prediction.get("correlation_strength", []),
        "causal_graph": prediction.get("causal_graph", []),
        "forecast": prediction.get("forecast", []),
        "temporal_patterns": prediction.get("temporal_patterns", []),
        "exclusions": prediction.get("exclusions", []),
    }


def medications_part(prediction: dict, options: Options) -> dict:
    return {"recommendations": prediction.get("recommendations", [])}


BUILDERS = {
    "forecast": forecast_part,
    "correlations": correlations_part,
    "medications": medications_part,
}


def rule_inputs(parts: dict[str, dict], sources: dict[str, dict]):
    """(forecast points, relations, medication options) for the rules; None for a part
    that is missing."""
    points: list[ForecastPoint] | None = None
    relations: list[Relation] | None = None
    options: list[MedicationOption] | None = None
    forecast = parts.get("symptom_forecast")
    correlations = parts.get("biometric_correlations")
    if forecast is not None and forecast.get("target"):
        model = sources["symptom_forecast"]["model"]
        points = [
            ForecastPoint(
                forecast["target"],
                p["horizon"],
                p["day"],
                p["median"],
                p["lower"],
                p["upper"],
                model,
            )
            for p in forecast["forecast"]
        ]
    if correlations is not None:
        model = sources["biometric_correlations"]["model"]
        points = (points or []) + [
            ForecastPoint(
                p["symptom"],
                p["horizon_days"],
                p["target_day"],
                p["median"],
                p["lower"],
                p["upper"],
                model,
            )
            for p in correlations["forecast"]
        ]
        edges = {
            (e["biometric"], e["symptom"], e["lag_days"]) for e in correlations["causal_graph"]
        }
        relations = [
            Relation(
                r["biometric"],
                r["symptom"],
                int(r["lag_days"]),
                float(r["coefficient"]),
                float(r["q_value"]),
                bool(r["significant"]),
                (r["biometric"], r["symptom"], r["lag_days"]) in edges,
            )
            for r in correlations["relations"]
        ]
    medications = parts.get("medication_predictions")
    if medications is not None:
        options = [
            MedicationOption(
                int(m["rank"]),
                m["drug"],
                float(m["efficacy_score"]),
                float(m["side_effect_risk"]),
                m["cpic_action"],
                m.get("dose_adjustment_percent"),
                m.get("recommendation", ""),
            )
            for m in medications["recommendations"]
        ]
    return points, relations, options
