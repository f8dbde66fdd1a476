"""The registry of model families: every descriptor names parts that exist and fit."""

from __future__ import annotations

import inspect

import pytest

from novamind_core.domain.errors import NotFoundError, ValidationError
from novamind_core.families import (
    FAMILIES,
    PLATFORM_PIPELINES,
    check_drift_monitor_params,
    family_of,
    pipeline,
    pipelines,
)
from novamind_core.infrastructure.family_descriptor import load
from novamind_core.infrastructure.serving.family_model import FamilyModel
from novamind_core.infrastructure.settings import load_settings


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.model_name)
def test_every_part_a_family_names_loads_and_fits_its_slot(family):
    model_class = load(family.serving_class)
    assert issubclass(model_class, FamilyModel)
    model = model_class(loader=lambda current: (None, None))
    assert model.name == family.model_name
    inputs = {t["name"] for t in model.get_input_types()}
    assert "patient_key" in inputs
    # what drift compares, requests carry (or the payload log derives from them)
    assert set(family.drift_features) <= inputs | set(model.derived_features)
    assert {"patient_key"} <= {t["name"] for t in model.get_output_types()}
    assert callable(load(family.history_source))
    content = load(family.review_content)
    assert content.charts_title and callable(content.summary_rows) and callable(content.tables)
    for entry in family.pipelines:
        assert hasattr(entry.load(), "pipeline_func")
    assert family.training_pipeline is family.pipelines[0]


def test_names_are_unique_and_every_pipeline_is_found_by_name():
    models = [f.model_name for f in FAMILIES]
    assert len(models) == len(set(models))
    names = [p.name for f in FAMILIES for p in f.pipelines] + [p.name for p in PLATFORM_PIPELINES]
    assert list(pipelines()) == names and len(names) == len(set(names))
    assert pipeline("drift-monitor").name == "drift-monitor"


def test_unknown_names_list_the_known_ones():
    with pytest.raises(NotFoundError, match="known: symptom-forecasting"):
        pipeline("nope")
    with pytest.raises(
        NotFoundError, match="known models: symptom-forecaster, biometric-correlator"
    ):
        family_of("treatment-ranker")
    assert family_of("biometric-correlator").training_pipeline.name == "biometric-correlation"


def test_a_text_parameter_can_come_from_a_file(tmp_path):
    entry = pipeline("biometric-correlation")
    truth = tmp_path / "truth.json"
    truth.write_text('{"lead_lag_effects": []}')
    assert entry.parse([f"expected_relations=@{truth}"]) == {
        "expected_relations": '{"lead_lag_effects": []}'
    }
    with pytest.raises(ValidationError, match="cannot read"):
        entry.parse([f"expected_relations=@{tmp_path / 'missing.json'}"])


def test_parameters_are_typed_by_the_pipeline_defaults():
    entry = pipeline("symptom-forecasting")
    params = entry.parse(["horizon=5", "use_ensemble=false", "target=phq9"])
    assert params == {"horizon": 5, "use_ensemble": False, "target": "phq9"}
    with pytest.raises(ValidationError, match="must be a int"):
        entry.parse(["horizon=five"])
    with pytest.raises(ValidationError, match="unknown parameter 'bogus'"):
        entry.parse(["bogus=1"])
    with pytest.raises(ValidationError, match="key=value"):
        entry.parse(["horizon"])


def test_a_family_checks_its_own_parameters_and_drops_what_its_pipeline_does_not_take():
    settings = load_settings(max_forecast_horizon=10)
    entry = pipeline("symptom-forecasting")
    with pytest.raises(ValidationError, match=r"outside 1\.\.10"):
        entry.checked({"horizon": 11}, settings)
    checked = entry.checked({"horizon": 3}, settings)
    assert checked["use_ensemble"] is settings.use_ensemble  # filled from the settings
    assert set(checked) <= set(inspect.signature(entry.load().pipeline_func).parameters)


def test_the_drift_monitor_retrains_with_the_family_training_pipeline_by_default():
    settings = load_settings()
    params = check_drift_monitor_params({"model": "symptom-forecaster"}, settings)
    assert params["training_pipeline"] == "symptom-forecasting"
    with pytest.raises(ValidationError, match="parameter model: no model family serves"):
        check_drift_monitor_params({"model": "nobody"}, settings)
    with pytest.raises(ValidationError, match="not a known pipeline"):
        check_drift_monitor_params({"training_pipeline": "nowhere"}, settings)
