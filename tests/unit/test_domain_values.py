from datetime import date, datetime

import pytest

from novamind_core.domain.observations import (
    BiometricKind,
    BiometricSample,
    Instrument,
    SymptomObservation,
)
from novamind_core.domain.patients import PatientPseudonym, age_band
from novamind_core.domain.results import CorrelationResult, ForecastPoint, ForecastResult

P = PatientPseudonym("p_" + "a" * 24)


def test_pseudonym_must_look_like_a_keyed_hash():
    with pytest.raises(ValueError):
        PatientPseudonym("MRN1234567")


@pytest.mark.parametrize(
    ("age", "band"),
    [(18, "18-24"), (24, "18-24"), (25, "25-34"), (64, "55-64"), (65, "65+"), (101, "65+")],
)
def test_age_bands(age, band):
    assert age_band(age) == band


@pytest.mark.parametrize("score", [35, -1, float("nan"), float("inf")])
def test_phq9_outside_its_scale_is_rejected(score):
    with pytest.raises(ValueError, match="phq9"):
        SymptomObservation(P, datetime(2025, 1, 1), Instrument.PHQ9, score)


@pytest.mark.parametrize("value", [0, 400])
def test_implausible_heart_rate_is_rejected(value):
    with pytest.raises(ValueError, match="heart_rate_bpm"):
        BiometricSample(P, datetime(2025, 1, 1), BiometricKind.HEART_RATE, value)


def test_valid_observation_is_accepted():
    assert SymptomObservation(P, datetime(2025, 1, 1), Instrument.GAD7, 21).score == 21


def test_forecast_interval_must_contain_median():
    with pytest.raises(ValueError, match="lower <= median <= upper"):
        ForecastPoint(date(2025, 1, 2), 1, median=5, lower=6, upper=9)


def test_forecast_horizons_must_increase():
    points = (
        ForecastPoint(date(2025, 1, 3), 2, 5, 4, 6),
        ForecastPoint(date(2025, 1, 2), 1, 5, 4, 6),
    )
    with pytest.raises(ValueError, match="increasing horizons"):
        ForecastResult(P, Instrument.PHQ9, points, 0.8, "1")


def test_correlation_coefficient_is_bounded():
    with pytest.raises(ValueError):
        CorrelationResult(
            BiometricKind.SLEEP_DURATION, Instrument.PHQ9, 1, "pearson", 1.2, 0.01, 0.02, 100
        )
