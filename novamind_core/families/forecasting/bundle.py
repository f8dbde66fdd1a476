"""The trained symptom forecaster as one directory: Transformer, XGBoost, ensemble."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xgboost as xgb

from novamind_core.families.forecasting import gradient_boosting, transformer
from novamind_core.families.forecasting.ensemble import EnsembleCalibration
from novamind_core.families.forecasting.imputation import (
    BIOMETRICS,
    KEY,
    SYMPTOMS,
    build_daily_grid,
    daily_grid_columns,
)
from novamind_core.families.forecasting.spec import ForecastSpec
from novamind_core.families.forecasting.windows import Scaler, Windows, make_windows


@dataclass
class Forecast:
    lower: np.ndarray
    median: np.ndarray
    upper: np.ndarray
    transformer_median: np.ndarray
    xgboost: np.ndarray


class ForecasterBundle:
    """Everything needed to forecast from a patient's recent daily history."""

    def __init__(self, spec, scaler, fill_values, model_config, model, xgb_models, calibration):
        self.spec: ForecastSpec = spec
        self.scaler: Scaler = scaler
        self.fill_values: dict[str, float] = fill_values
        self.model_config: transformer.TransformerConfig = model_config
        self.model: transformer.QuantileTransformer = model
        self.xgb_models: list[xgb.XGBRegressor] = xgb_models
        self.calibration: EnsembleCalibration = calibration
        # set by prepare_for_serving: ONNX Runtime for the Transformer, one XGBoost booster
        self.decoder = None
        self.xgb_merged: xgb.Booster | None = None

    @property
    def precision(self) -> str:
        dtype = next(self.model.parameters()).dtype
        return next(k for k, v in transformer.PRECISIONS.items() if v == dtype)

    def prepare_for_serving(self) -> None:
        """Small batches, one thread each, little fixed cost per batch: the horizon models
        merged into one XGBoost booster on one thread (one call instead of seven: 2.3 ->
        0.4 ms per batch; XGBoost's default thread pool also spun while waiting, 4.8 ms of
        CPU per batch against 2.3 on one thread), and a float32 Transformer decoded
        through ONNX Runtime (onnx_decoder.py). Forecasts stay the same (tested)."""
        from novamind_core.families.forecasting.onnx_decoder import OnnxDecoder

        self.xgb_merged = gradient_boosting.merge_horizons(self.xgb_models)
        if self.precision == "float32":
            self.decoder = OnnxDecoder(self.model)

    # -- forecasting -------------------------------------------------------------
    def scaled_target(self, values: np.ndarray) -> np.ndarray:
        t = self.spec.target
        return (values - self.scaler.mean[t]) / self.scaler.std[t]

    def transformer_quantiles(self, w: Windows) -> np.ndarray:
        """(N,H,3) on the instrument's scale."""
        last = self.scaled_target(w.history[:, -1])
        if self.decoder is not None:
            scaled = self.decoder(w.context, last, w.future_dow)
        else:
            scaled = transformer.predict(self.model, w.context, last, w.future_dow)
        t = self.spec.target
        return scaled * self.scaler.std[t] + self.scaler.mean[t]

    def forecast(self, w: Windows) -> Forecast:
        tq = self.transformer_quantiles(w)
        x = gradient_boosting.tabular(w)
        if self.xgb_merged is not None:
            xg = gradient_boosting.predict_merged(self.xgb_merged, x)
        else:
            xg = gradient_boosting.predict(self.xgb_models, x)
        median = self.calibration.combine(tq[..., 1], xg)
        lower, median, upper = self.calibration.interval(median, *self.spec.score_range)
        return Forecast(lower, median, upper, tq[..., 1], xg)

    def forecast_history(self, history: pd.DataFrame) -> pd.DataFrame:
        """Forecast the days after each patient's last day of ``history``.

        ``history`` holds daily rows: patient_key, day, and any of the symptom and
        wearable columns (missing values allowed).
        """
        observations = _as_records(history, SYMPTOMS)
        biometrics = _as_records(history, BIOMETRICS)
        grid = build_daily_grid(observations, biometrics, self.fill_values)
        w, columns = self._forecast_last_days(grid)
        return pd.DataFrame(
            {
                KEY: np.repeat(w.keys, self.spec.horizon),
                **columns,
                "day": pd.DatetimeIndex(columns["day"]),
            }
        )

    def forecast_daily(
        self, histories: list[dict[str, np.ndarray]]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Forecast the days after each of ``histories``: one patient's daily rows each
        (``day`` strictly ascending, datetime64[D], and any value columns), as
        ``daily_grid_columns`` reads them. The same forecast as ``forecast_history`` of
        those rows (tested), in numpy throughout: the server's micro-batch path.

        Returns the forecast columns (``index``: which history; horizon, day, median,
        lower, upper) and the daily grid they were made from."""
        grid = daily_grid_columns(histories, self.fill_values)
        w, columns = self._forecast_last_days(grid)
        return {"index": np.repeat(w.keys.astype(np.int64), self.spec.horizon), **columns}, grid

    def _forecast_last_days(self, grid) -> tuple[Windows, dict[str, np.ndarray]]:
        """The window ending on each patient's last grid day, and its forecast columns."""
        w = make_windows(
            grid,
            self.spec.target,
            self.scaler,
            self.spec.context_days,
            self.spec.horizon,
            stride=10**9,
            require_future=False,
        )
        f = self.forecast(w)
        horizon = self.spec.horizon
        steps = np.tile(np.arange(1, horizon + 1), len(w))
        origin = np.repeat(w.origin.astype("datetime64[D]"), horizon)
        return w, {
            "horizon": steps,
            "day": origin + steps,
            "median": f.median.reshape(-1).astype(float),
            "lower": f.lower.reshape(-1).astype(float),
            "upper": f.upper.reshape(-1).astype(float),
        }

    # -- persistence ---------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "spec": self.spec.to_dict(),
            "scaler": {"mean": self.scaler.mean, "std": self.scaler.std},
            "fill_values": self.fill_values,
            "transformer": asdict(self.model_config),
            "calibration": self.calibration.to_dict(),
            "precision": self.precision,
        }
        (directory / "config.json").write_text(json.dumps(config, indent=2))
        torch.save(self.model.state_dict(), directory / "transformer.pt")
        for h, model in enumerate(self.xgb_models):
            model.save_model(directory / f"xgboost_h{h + 1}.json")

    @classmethod
    def load(cls, directory: Path) -> ForecasterBundle:
        config = json.loads((directory / "config.json").read_text())
        spec = ForecastSpec.from_dict(config["spec"])
        model_config = transformer.TransformerConfig(**config["transformer"])
        model = transformer.QuantileTransformer(model_config)
        model.load_state_dict(torch.load(directory / "transformer.pt", weights_only=True))
        model = transformer.with_precision(model, config.get("precision", "float32"))
        xgb_models = []
        for h in range(spec.horizon):
            booster = xgb.XGBRegressor()
            booster.load_model(directory / f"xgboost_h{h + 1}.json")
            xgb_models.append(booster)
        return cls(
            spec,
            Scaler(**config["scaler"]),
            config["fill_values"],
            model_config,
            model,
            xgb_models,
            EnsembleCalibration.from_dict(config["calibration"]),
        )


def _as_records(history: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Daily rows → the record shape the grid builder reads (recorded_at = the day)."""
    present = [c for c in columns if c in history]
    frame = history[[KEY, "day", *present]].rename(columns={"day": "recorded_at"})
    frame["recorded_at"] = pd.to_datetime(frame["recorded_at"])
    for column in columns:
        if column not in frame:
            frame[column] = np.nan
    return frame
