"""Model test: on held-out patients of a 4,000-patient synthetic cohort the GNN learns the
planted phenotype effects that a genotype-blind twin cannot — by a margin larger than the
spread between training seeds — and its risk by phenotype moves the way the generator
planted it."""

from __future__ import annotations

import numpy as np
import pytest

from novamind_core.families.pharmacogenomics import cases as C
from novamind_core.families.pharmacogenomics import evaluation as E
from novamind_core.families.pharmacogenomics.cohort_data import catalog_of
from novamind_core.families.pharmacogenomics.graphs import DrugGraphs
from novamind_core.families.pharmacogenomics.steps import SPLITS, assign
from novamind_core.families.pharmacogenomics.training import fit, predict_proba
from tests.support.pgx_cohort import pgx_tables

pytestmark = pytest.mark.slow
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def results():
    tables, truth = pgx_tables(4000, days=150, seed=3)
    _, genes, doses, _ = catalog_of(tables["medications"])
    smiles = dict(
        zip(tables["medications"]["drug_name"], tables["medications"]["smiles"], strict=True)
    )
    graphs = DrugGraphs(smiles)
    ex = C.examples_from_tables(
        tables["patients"], tables["genotypes"], tables["treatment_history"], genes
    )
    where = assign(sorted(tables["patients"]["patient_key"]), 0.15, seed=0)
    split = np.array([where[k] for k in ex.keys])
    rows = {s: np.flatnonzero(split == s) for s in SPLITS}
    enc = C.encode(ex.cases, ex.drugs, graphs.index, doses)
    y = np.stack([ex.response, ex.side_effect], axis=1)
    batch = graphs.batch()
    train, val, test = (enc.take(rows[s]) for s in SPLITS)
    auc = {"gnn": [], "blind": []}
    gnn_predictions = []
    for seed in SEEDS:
        for name, blind in (("gnn", False), ("blind", True)):
            a, b, t = (train.blind(), val.blind(), test.blind()) if blind else (train, val, test)
            net, _ = fit(a, y[rows["train"]], b, y[rows["validation"]], batch, seed=seed)
            p = predict_proba(net, batch, t)
            auc[name].append(E.head_metrics(y[rows["test"], 1], p[:, 1])["roc_auc"])
            if not blind:
                gnn_predictions.append(p)
    phenotypes = [ex.primary_phenotype[i] for i in rows["test"]]
    effects = E.phenotype_effects(
        phenotypes, y[rows["test"]], {"gnn": np.mean(gnn_predictions, axis=0)}, truth
    )
    return auc, {r["phenotype"]: r for r in effects}


def test_the_gnn_beats_the_genotype_blind_model_by_more_than_the_seed_spread(results):
    auc, _ = results
    margin = np.mean(auc["gnn"]) - np.mean(auc["blind"])
    spread = max(np.ptp(auc["gnn"]), np.ptp(auc["blind"]))
    print(
        f"side-effect ROC-AUC gnn {auc['gnn']} blind {auc['blind']}: "
        f"margin {margin:.3f}, spread {spread:.3f}"
    )
    assert margin > spread
    assert min(auc["gnn"]) > max(auc["blind"])


def test_predicted_side_effect_risk_follows_the_planted_phenotype_order(results):
    _, effects = results
    risk = {p: effects[p]["side_effect_gnn"] for p in ("PM", "IM", "NM")}
    # planted: PM 0.52 > IM 0.35 > NM 0.25
    assert risk["PM"] > risk["IM"] > risk["NM"]
    assert risk["PM"] - risk["NM"] > 0.05
