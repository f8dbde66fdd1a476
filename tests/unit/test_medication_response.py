"""The medication-response family's parts on small fakes: drug graphs, patient encoding,
field checks, the split, evaluation maths, the prior correction of the weighted loss,
and the CPIC-aware ranking of a small trained bundle."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from novamind_core.domain.errors import ValidationError
from novamind_core.domain.pharmacogenomics import Diplotype, Gene
from novamind_core.families.pharmacogenomics import cases as C
from novamind_core.families.pharmacogenomics import evaluation as E
from novamind_core.families.pharmacogenomics.graphs import (
    ATOM_FEATURES,
    BOND_FEATURES,
    DrugGraphs,
    drug_graph,
    morgan_fingerprint,
)
from novamind_core.families.pharmacogenomics.knowledge_base import Action
from novamind_core.families.pharmacogenomics.patient_input import case_from_fields
from novamind_core.families.pharmacogenomics.steps import assign
from novamind_core.infrastructure.synthetic.reference_data import medication_catalog

CATALOG = {m["name"]: m for m in medication_catalog()}
SMILES = {name: m["smiles"] for name, m in CATALOG.items()}
DOSES = {name: tuple(map(float, m["dose_mg"])) for name, m in CATALOG.items()}


# -- graphs ------------------------------------------------------------------------------------
def test_a_drug_graph_has_every_atom_and_each_bond_both_ways():
    from rdkit import Chem

    mol = Chem.MolFromSmiles(SMILES["sertraline"])
    graph = drug_graph("sertraline", SMILES["sertraline"])
    assert graph.num_nodes == mol.GetNumAtoms() == 20  # C17H17Cl2N heavy atoms
    assert graph.x.shape == (20, ATOM_FEATURES)
    assert graph.edge_index.shape == (2, 2 * mol.GetNumBonds())
    assert graph.edge_attr.shape == (2 * mol.GetNumBonds(), BOND_FEATURES)
    pairs = {tuple(e) for e in graph.edge_index.T.tolist()}
    assert all((b, a) in pairs for a, b in pairs)
    chlorines = graph.x[:, 5].sum().item()  # ELEMENTS = C, N, O, S, F, Cl, Br
    assert chlorines == 2


def test_stereo_isomers_share_a_graph_but_not_a_name():
    a = drug_graph("citalopram", SMILES["citalopram"])
    b = drug_graph("escitalopram", SMILES["escitalopram"])
    assert (a.x == b.x).all()  # the features do not encode chirality: said in the README


@pytest.mark.parametrize("smiles", ["C1CC", "not a molecule", "", None])
def test_an_invalid_smiles_is_refused_naming_the_drug(smiles):
    with pytest.raises(ValidationError, match="'fakeazine'"):
        drug_graph("fakeazine", smiles)


def test_fingerprints_differ_between_drugs_and_are_bit_vectors():
    a = morgan_fingerprint("fluoxetine", SMILES["fluoxetine"])
    b = morgan_fingerprint("paroxetine", SMILES["paroxetine"])
    assert a.shape == (1024,) and set(np.unique(a)) <= {0.0, 1.0}
    assert (a != b).any()


def test_the_catalog_order_is_fixed_and_an_unknown_drug_is_named():
    graphs = DrugGraphs(SMILES)
    assert list(graphs.drugs) == sorted(SMILES)
    assert graphs.batch().num_graphs == len(SMILES)
    with pytest.raises(ValidationError, match="unknown drug 'placebo'"):
        graphs.position("placebo")


# -- patient encoding ------------------------------------------------------------------------
def d(gene: Gene, text: str) -> Diplotype:
    return Diplotype.parse(gene, text)


def test_genotype_features_one_hot_per_gene_and_activity_score():
    f = C.genotype_features(
        {Gene.CYP2D6: d(Gene.CYP2D6, "*4/*4"), Gene.CYP2C19: d(Gene.CYP2C19, "*1/*17")}
    )
    width = len(C.PHENOTYPES) + 1
    assert f[C.PHENOTYPES.index("PM")] == 1.0 and f[:width].sum() == 1.0
    assert f[width + C.PHENOTYPES.index("RM")] == 1.0 and f[width : 2 * width].sum() == 1.0
    assert f[-1] == 0.0
    f = C.genotype_features({Gene.CYP2D6: d(Gene.CYP2D6, "*1/*2")})
    assert f[-1] == pytest.approx(2.0 / 3.0)
    assert f[2 * width - 1] == 1.0  # CYP2C19 unknown


def test_an_indeterminate_phenotype_counts_as_unknown():
    f = C.genotype_features(
        {Gene.CYP2D6: Diplotype.parse(Gene.CYP2D6, "*1/*999", allow_unknown=True)}
    )
    assert f[len(C.PHENOTYPES)] == 1.0


def test_blind_blanks_the_genotype_and_nothing_else():
    case = C.PatientCase({Gene.CYP2D6: d(Gene.CYP2D6, "*4/*4")}, "MDD", "35-44", "F")
    enc = C.encode([case], ["fluoxetine"], DrugGraphs(SMILES).index, DOSES)
    blind = enc.blind()
    no_genotype = C.encode(
        [C.PatientCase({}, "MDD", "35-44", "F")], ["fluoxetine"], DrugGraphs(SMILES).index, DOSES
    )
    assert (blind.static == no_genotype.static).all()
    assert (blind.static[:, C.GENOTYPE_FEATURES :] == enc.static[:, C.GENOTYPE_FEATURES :]).all()
    assert (enc.static[:, : C.GENOTYPE_FEATURES] != blind.static[:, : C.GENOTYPE_FEATURES]).any()


def test_history_keeps_the_most_recent_trials_in_order():
    trials = [C.PriorTrial("sertraline", 50 + 10 * i, i % 2 == 0, i == 6) for i in range(7)]
    case = C.PatientCase({}, "MDD", "35-44", "F", tuple(trials))
    index = DrugGraphs(SMILES).index
    enc = C.encode([case], ["fluoxetine"], index, DOSES)
    assert (enc.history_drug[0] == index["sertraline"]).all()  # the last five of seven
    low, high = DOSES["sertraline"]
    assert enc.history[0, 0, 0] == pytest.approx((70 - low) / (high - low))  # trial 2
    assert enc.history[0, -1, 4] == 1.0  # the newest had a side effect


def test_examples_come_one_per_trial_with_the_earlier_trials_as_history():
    patients = pd.DataFrame(
        {
            "patient_key": ["p_a", "p_b"],
            "age_band": ["25-34", "65+"],
            "sex": ["F", "M"],
            "primary_diagnosis": ["MDD", "GAD"],
        }
    )
    genotypes = pd.DataFrame(
        {
            "patient_key": ["p_a"],
            "cyp2d6_allele1": ["*4"],
            "cyp2d6_allele2": ["*4"],
            "cyp2c19_allele1": ["*1"],
            "cyp2c19_allele2": ["*1"],
        }
    )
    trials = pd.DataFrame(
        {
            "trial_id": ["T2", "T1", "T3"],
            "patient_key": ["p_a", "p_a", "p_b"],
            "drug_name": ["paroxetine", "fluoxetine", "desvenlafaxine"],
            "dose_mg": [20.0, 40.0, 50.0],
            "start_date": pd.to_datetime(["2025-03-01", "2025-01-01", "2025-02-01"]),
            "response": pd.array([None, False, True], dtype="boolean"),
            "side_effects": [None, "nausea;insomnia", None],
            "discontinued_side_effects": [False, True, False],
        }
    )
    genes = {name: tuple(m["metabolized_by"]) for name, m in CATALOG.items()}
    ex = C.examples_from_tables(patients, genotypes, trials, genes)
    assert ex.drugs == ["fluoxetine", "paroxetine", "desvenlafaxine"]  # by start date
    assert ex.cases[0].history == () and [t.drug for t in ex.cases[1].history] == ["fluoxetine"]
    assert ex.cases[1].history[0].discontinued and ex.cases[1].history[0].response is False
    assert np.isnan(ex.response[1]) and ex.response[2] == 1.0
    assert list(ex.side_effect) == [1.0, 0.0, 0.0]
    assert ex.primary_phenotype == ["PM", "PM", "none"]  # CYP2D6 *4/*4; no gene
    assert not ex.cases[2].genotyped
    now = C.patient_cases(patients, genotypes, trials)
    assert [t.drug for t in now["p_a"].history] == ["fluoxetine", "paroxetine"]


# -- field checks --------------------------------------------------------------------------------
GOOD = {"diagnosis": "MDD", "age_band": "35-44", "sex": "F"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"age_band": "35-44", "sex": "F"}, "needs diagnosis"),
        ({**GOOD, "diagnosis": "FLU"}, r"diagnosis must be one of"),
        ({**GOOD, "age_band": "40"}, r"age_band must be one of"),
        ({**GOOD, "genotype": {"CYP2B6": "*1/*6"}}, "unknown gene 'CYP2B6'"),
        ({**GOOD, "genotype": {"CYP2D6": "4/4"}}, "malformed CYP2D6 star allele"),
        ({**GOOD, "genotype": "CYP2D6=*1/*4"}, "genotype must be an object"),
        (
            {**GOOD, "history": [{"drug": "placebo", "dose_mg": 1}]},
            r"history\[0\].drug: unknown drug",
        ),
        ({**GOOD, "history": [{"drug": "sertraline", "dose_mg": 5000}]}, r"dose_mg must be"),
        (
            {**GOOD, "history": [{"drug": "sertraline", "dose_mg": 50, "response": "yes"}]},
            "response must be",
        ),
        ({**GOOD, "history": "[not json"}, "JSON list"),
    ],
)
def test_bad_fields_are_named(fields, message):
    with pytest.raises(ValidationError, match=message) as caught:
        case_from_fields(fields, "instances[0]", DOSES)
    assert str(caught.value).startswith("instances[0]")


def test_good_fields_make_a_case_and_an_empty_gene_means_not_genotyped():
    case = case_from_fields(
        {
            **GOOD,
            "genotype": {"CYP2D6": "*1/*4", "CYP2C19": ""},
            "history": json.dumps(
                [{"drug": "Sertraline", "dose_mg": 100, "response": None, "side_effects": "nausea"}]
            ),
        },
        "x",
        DOSES,
    )
    assert set(case.diplotypes) == {Gene.CYP2D6}
    assert case.history[0].drug == "sertraline" and case.history[0].side_effect


# -- split ---------------------------------------------------------------------------------------
def test_the_split_is_by_whole_patient_seeded_and_stable():
    keys = [f"p_{i:024x}" for i in range(1000)]
    first = assign(keys + keys[:10], 0.15, seed=3)
    assert assign(list(reversed(keys)), 0.15, seed=3) == first
    shares = pd.Series(first).value_counts()
    assert shares["test"] == shares["validation"] == 150 and shares["train"] == 700
    assert assign(keys, 0.15, seed=4) != first


# -- evaluation maths ----------------------------------------------------------------------------
def test_ece_is_zero_for_calibrated_bins_and_large_for_confident_errors():
    p = np.repeat([0.2, 0.8], 500)
    y = np.concatenate([np.r_[np.ones(100), np.zeros(400)], np.r_[np.ones(400), np.zeros(100)]])
    assert E.expected_calibration_error(y, p) == pytest.approx(0.0)
    assert E.expected_calibration_error(1 - y, p) == pytest.approx(0.6)


def test_head_metrics_skip_unknown_labels_and_a_single_class():
    y = np.array([1.0, 0.0, np.nan, 1.0])
    p = np.array([0.9, 0.1, 0.5, 0.8])
    m = E.head_metrics(y, p)
    assert m["n"] == 3 and m["roc_auc"] == 1.0
    assert np.isnan(E.head_metrics(np.ones(4), p)["roc_auc"])


def test_planted_rates_follow_the_generator():
    truth = {
        "base_response_probability": 0.5,
        "base_side_effect_probability": 0.25,
        "response_logit_shift_by_phenotype": {"PM": 0.0, "NM": 0.0},
        "side_effect_logit_shift_by_phenotype": {"PM": np.log(3), "NM": 0.0},
        "severe_side_effect_ends_trial_share": 0.0,
    }
    rates = E.planted_rates(truth)
    assert rates["NM"]["side_effect"] == pytest.approx(0.25)
    assert rates["PM"]["side_effect"] == pytest.approx(0.5)  # odds 1/3 × 3
    assert rates["none"] == rates["NM"]


# -- the weighted loss stays calibrated ------------------------------------------------------------
@pytest.fixture(scope="module")
def trained():
    """A small network trained on a planted effect: side effects are likelier for CYP2D6
    poor metabolizers on CYP2D6 drugs (p 0.6) than otherwise (p 0.15)."""
    from novamind_core.families.pharmacogenomics.training import fit

    rng = np.random.default_rng(0)
    graphs = DrugGraphs(SMILES)
    drugs = ["paroxetine", "venlafaxine", "desvenlafaxine", "bupropion"]
    calls = ["*4/*4", "*1/*1", "*1/*2", "*1/*41"]
    n = 1600
    cases = [
        C.PatientCase({Gene.CYP2D6: d(Gene.CYP2D6, calls[i % 4])}, "MDD", "35-44", "F")
        for i in range(n)
    ]
    chosen = [drugs[int(k)] for k in rng.integers(0, 4, n)]
    poor = np.array([i % 4 == 0 for i in range(n)])
    cyp2d6_drug = np.isin(chosen, ["paroxetine", "venlafaxine"])
    p = np.where(poor & cyp2d6_drug, 0.6, 0.15)
    labels = np.stack([rng.random(n) < 0.5, rng.random(n) < p], axis=1).astype(float)
    enc = C.encode(cases, chosen, graphs.index, DOSES)
    train, val = np.arange(n) < 1200, np.arange(n) >= 1200
    net, info = fit(
        enc.take(train),
        labels[train],
        enc.take(val),
        labels[val],
        graphs.batch(),
        seed=0,
        epochs=40,
        patience=10,
    )
    return net, graphs, enc, labels, poor, cyp2d6_drug, info


def test_weighting_the_rare_class_leaves_the_probabilities_calibrated(trained):
    from novamind_core.families.pharmacogenomics.training import predict_proba

    net, graphs, enc, labels, *_, info = trained
    assert info["config"]["side_effect_pos_weight"] > 2.5  # the rare class was weighted
    proba = predict_proba(net, graphs.batch(), enc)
    # without the prior correction the weighted loss pushes the mean towards 0.5
    assert abs(proba[:, 1].mean() - labels[:, 1].mean()) < 0.04


def test_the_network_learns_the_drug_gene_phenotype_interaction(trained):
    from novamind_core.families.pharmacogenomics.training import predict_proba

    net, graphs, enc, _labels, poor, cyp2d6_drug, _ = trained
    side = predict_proba(net, graphs.batch(), enc)[:, 1]
    assert side[poor & cyp2d6_drug].mean() > side[poor & ~cyp2d6_drug].mean() + 0.2
    assert side[poor & cyp2d6_drug].mean() > side[~poor & cyp2d6_drug].mean() + 0.2


# -- ranking with CPIC on top ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def predictor(trained, tmp_path_factory):
    from novamind_core.families.pharmacogenomics.bundle import Catalog, Predictor, save_network
    from novamind_core.families.pharmacogenomics.network import MedicationResponseNet

    net, _graphs, *_, info = trained
    folder = tmp_path_factory.mktemp("bundle")
    Catalog(
        SMILES,
        {name: tuple(m["metabolized_by"]) for name, m in CATALOG.items()},
        DOSES,
        {name: m["drug_class"] for name, m in CATALOG.items()},
        {"paroxetine": [("nausea", 0.2)]},
    ).save(folder / "catalog.json")
    save_network(net, info, folder / "gnn")
    blind = MedicationResponseNet(net.config)  # untrained is enough to check the routing
    save_network(blind, info, folder / "blind")
    (folder / "reference.json").write_text(
        json.dumps({"gnn": {"paroxetine": list(np.linspace(-0.5, 0.5, 101))}, "blind": {}})
    )
    return Predictor(folder)


CYP2D6_CALLS = ["*4/*4", "*4/*10", "*1/*1", "*1x2/*1"]
CYP2C19_CALLS = ["*2/*2", "*1/*2", "*1/*1", "*1/*17", "*17/*17"]


@pytest.mark.parametrize(
    ("cyp2d6", "cyp2c19"), list(itertools.product(CYP2D6_CALLS, CYP2C19_CALLS))
)
def test_every_ranking_agrees_with_cpic(predictor, cyp2d6, cyp2c19):
    from novamind_core.families.pharmacogenomics.guidance import recommend
    from novamind_core.families.pharmacogenomics.ranking import rank

    diplotypes = {Gene.CYP2D6: d(Gene.CYP2D6, cyp2d6), Gene.CYP2C19: d(Gene.CYP2C19, cyp2c19)}
    case = C.PatientCase(diplotypes, "MDD", "35-44", "F")
    ranked = rank(predictor, case, "MDD", samples=4)
    cpic = {g.drug: g for g in recommend(diplotypes, condition="MDD")}
    assert [r.rank for r in ranked] == list(range(1, len(cpic) + 1))
    assert {r.drug for r in ranked} == set(cpic)
    for r in ranked:
        assert r.cpic_action == cpic[r.drug].action.value
        assert r.dose_adjustment_percent == cpic[r.drug].dose_adjustment_percent
        assert r.flagged == (r.cpic_action == Action.AVOID.value)
        assert 0.0 <= r.confidence <= 1.0 and r.genotype_used
    avoid = [r.rank for r in ranked if r.flagged]
    others = [r.rank for r in ranked if not r.flagged]
    assert not avoid or min(avoid) > max(others)  # an avoid is never above a non-avoid
    assert not ranked[0].flagged
    for tier in (avoid, others):
        scores = [ranked[i - 1].benefit for i in tier]
        assert scores == sorted(scores, reverse=True)


def test_a_patient_without_genotype_gets_the_blind_model_and_is_told(predictor):
    from novamind_core.families.pharmacogenomics.ranking import rank

    ranked = rank(predictor, C.PatientCase({}, "GAD", "35-44", "F"), samples=2)
    assert ranked and not any(r.genotype_used for r in ranked)
    assert all(
        r.recommendation.startswith("No genotype: predicted by the genotype-blind") for r in ranked
    )
    assert all(
        r.cpic_action == "no_genotype" for r in ranked if r.drug in {"paroxetine", "venlafaxine"}
    )


def test_percentile_and_reported_side_effects_come_from_training(predictor):
    from novamind_core.families.pharmacogenomics.ranking import rank

    case = C.PatientCase({Gene.CYP2D6: d(Gene.CYP2D6, "*1/*1")}, "MDD", "35-44", "F")
    (r,) = rank(predictor, case, candidates=["Paroxetine"], samples=2)
    assert r.percentile == pytest.approx(
        np.interp(r.benefit, np.linspace(-0.5, 0.5, 101), np.linspace(0, 100, 101)), abs=0.1
    )
    assert r.side_effects == [("nausea", 0.2)]
    (other,) = rank(predictor, case, candidates=["bupropion"], samples=2)
    assert other.percentile is None and other.side_effects == []


@pytest.mark.parametrize(
    ("condition", "candidates", "message"),
    [
        ("MDD", [], "candidate list is empty"),
        ("MDD", ["placebo"], "unknown drug 'placebo'"),
        ("FLU", None, "unknown condition 'FLU'"),
    ],
)
def test_ranking_refuses_what_it_cannot_rank(predictor, condition, candidates, message):
    from novamind_core.families.pharmacogenomics.ranking import rank

    with pytest.raises(ValidationError, match=message):
        rank(predictor, C.PatientCase({}, "MDD", "35-44", "F"), condition, candidates, samples=2)


def test_a_blind_prediction_is_placed_among_blind_predictions(predictor):
    from novamind_core.families.pharmacogenomics.ranking import rank

    (r,) = rank(predictor, C.PatientCase({}, "MDD", "35-44", "F"), candidates=["paroxetine"])
    assert not r.genotype_used and r.percentile is None  # no blind reference in this bundle


def test_no_cyp2d6_call_is_not_a_poor_metabolizers_score():
    rows = np.stack(
        [
            C.genotype_features({Gene.CYP2D6: d(Gene.CYP2D6, "*4/*4")}),
            C.genotype_features({}),
            C.genotype_features({Gene.CYP2D6: d(Gene.CYP2D6, "*1/*41")}),
        ]
    )
    scores = C.cyp2d6_activity(rows)
    assert scores[0] == 0.0 and np.isnan(scores[1]) and scores[2] == pytest.approx(1.5)


def test_weights_of_another_architecture_are_refused_plainly(trained, tmp_path):
    from novamind_core.families.pharmacogenomics.bundle import load_network, save_network

    net, *_, info = trained
    save_network(net, info, tmp_path)
    assert load_network(tmp_path) is not None
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "architecture": 1}))
    with pytest.raises(ValueError, match=r"trained with architecture 1.*retrain"):
        load_network(tmp_path)


class _Store:
    """Just enough of the dataset store for the graph step."""

    def __init__(self, tables: dict) -> None:
        self.tables = tables

    def manifest(self, version: str) -> dict:
        return {"version": "v0001"}

    def read(self, version: str, name: str):
        return self.tables[name]


def test_an_invalid_smiles_in_the_catalog_stops_the_graph_step_naming_the_drug(
    tmp_path, monkeypatch
):
    from novamind_core.families.pharmacogenomics import steps
    from novamind_core.infrastructure import composition
    from tests.support.fakes import FakeAudit

    medications = pd.DataFrame(
        [
            {
                "drug_name": name,
                "drug_class": m["drug_class"],
                "smiles": "C1CC(" if name == "bupropion" else m["smiles"],
                "metabolized_by": ";".join(m["metabolized_by"]),
                "min_dose_mg": float(m["dose_mg"][0]),
                "max_dose_mg": float(m["dose_mg"][1]),
            }
            for name, m in CATALOG.items()
        ]
    )
    trials = pd.DataFrame({"drug_name": ["sertraline"], "side_effects": [None]})
    store = _Store({"medications": medications, "treatment_history": trials})
    monkeypatch.setattr(composition, "dataset_store", lambda *a, **k: store)
    monkeypatch.setattr(composition, "audit_trail", lambda *a, **k: FakeAudit())
    with pytest.raises(ValidationError, match=r"SMILES of 'bupropion' is not a valid molecule"):
        steps.build_graphs("latest", tmp_path)
    assert not (tmp_path / "catalog.json").exists()  # nothing half-written
    medications.loc[medications.drug_name == "bupropion", "smiles"] = CATALOG["bupropion"]["smiles"]
    figures = steps.build_graphs("latest", tmp_path)
    assert figures["drugs"] == len(CATALOG) and (tmp_path / "catalog.json").exists()


def test_a_payload_row_holds_every_drift_feature_and_no_genotype_text():
    from novamind_core.domain.drift import PREDICTION
    from novamind_core.families.pharmacogenomics.family import DRIFT_FEATURES
    from novamind_core.families.pharmacogenomics.ranking import RankedDrug
    from novamind_core.families.pharmacogenomics.serving import MedicationResponseModel, Part
    from novamind_core.families.pharmacogenomics.serving import _payload_row as payload_row

    assert set(MedicationResponseModel.derived_features) == set(DRIFT_FEATURES)
    case = C.PatientCase(
        {Gene.CYP2D6: d(Gene.CYP2D6, "*1/*41")},
        "MDD",
        "35-44",
        "F",
        (C.PriorTrial("sertraline", 50.0, False, True),),
    )
    ranked = [
        RankedDrug(
            1,
            "bupropion",
            "x",
            0.6,
            0.2,
            0.5,
            0.9,
            50.0,
            [],
            {},
            "",
            "no_guidance",
            None,
            False,
            "",
            True,
        ),
        RankedDrug(
            2,
            "sertraline",
            "SSRI",
            0.4,
            0.3,
            0.25,
            0.9,
            50.0,
            [],
            {},
            "",
            "standard",
            None,
            False,
            "",
            True,
        ),
    ]
    row = payload_row(Part("p_" + "a" * 24, "instances[0]", case), ranked, "3")
    assert set(DRIFT_FEATURES) | {PREDICTION} <= set(row)
    assert row["cyp2d6_activity_score"] == pytest.approx(1.5)
    assert row["prior_trials"] == 1.0 and row["candidates"] == 2.0 and row[PREDICTION] == 0.6
    assert not any("*" in str(v) for v in row.values())  # no diplotype text


def test_the_drift_policy_reads_each_models_own_thresholds():
    from novamind_core.families.forecasting.variables import VARIABLES
    from novamind_core.families.pharmacogenomics.family import DRIFT_FEATURES
    from novamind_core.infrastructure.monitoring.drift_policy import load_policy

    own = load_policy(DRIFT_FEATURES, model="medication-response")
    assert set(own.thresholds) == {*DRIFT_FEATURES, own.prediction}
    # the top-level thresholds stay the forecaster's, and would not fit this model
    assert set(load_policy(VARIABLES).thresholds) >= {"phq9", "steps"}
    from novamind_core.domain.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="thresholds for unknown columns"):
        load_policy(DRIFT_FEATURES)
