"""The settings of one forecasting run, shared by every pipeline step."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from novamind_core.domain.observations import Instrument


@dataclass(frozen=True)
class ForecastSpec:
    target: str = "mood"
    horizon: int = 7
    context_days: int = 28
    validation_days: int = 56
    test_days: int = 35
    held_out_share: float = 0.15
    stride: int = 7
    seed: int = 7
    max_train_windows: int = 40_000  # a seeded sample bounds training time on big cohorts
    # every instrument is scored in whole numbers: the point forecast is rounded to one
    round_median: bool = True

    def __post_init__(self) -> None:
        if self.target not in {i.value for i in Instrument}:
            raise ValueError(f"target must be one of phq9, gad7, mood; got {self.target!r}")
        if self.horizon < 1:
            raise ValueError("horizon must be at least 1 day")
        if self.test_days < self.horizon or self.validation_days < self.horizon:
            raise ValueError("validation and test windows must each span at least the horizon")

    @classmethod
    def for_run(cls, target: str, horizon: int, seed: int) -> ForecastSpec:
        """Defaults for a pipeline run; windows widen for long horizons."""
        return cls(
            target=target,
            horizon=horizon,
            seed=seed,
            validation_days=max(56, 2 * horizon),
            test_days=max(35, horizon),
        )

    @property
    def score_range(self) -> tuple[float, float]:
        return Instrument(self.target).score_range

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ForecastSpec:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
