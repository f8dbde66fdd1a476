"""The pharmacogenomics pipeline's steps with file inputs and outputs: what its components
run.

validate (shared ``start_pipeline``) → build graphs → split by patient → train GNN ∥
train baselines (genotype-blind GNN, XGBoost) → evaluate → register. The examples table
holds patient rows and is written encrypted; graphs, models and figures are cohort-level.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from novamind_core.domain import patient_split
from novamind_core.domain.drift import PREDICTION
from novamind_core.domain.errors import ValidationError
from novamind_core.families.pharmacogenomics import cases as C
from novamind_core.families.pharmacogenomics.bundle import Catalog, benefit
from novamind_core.infrastructure.kfp.artifacts import (
    read_frame,
    write_frame,
    write_json,
)

SPLITS = ("train", "validation", "test")
MIN_HELD_OUT_TRIALS = 200  # fewer held-out trials: AUC differences are noise, no challenger
ECE_BOUND = 0.06  # calibration gate: expected calibration error of both heads
MIN_SIDE_EFFECT_REPORTS = 5  # a drug lists its reported side effects from this many trials


def run_params(held_out_share: float, seed: int, epochs: int) -> dict:
    return {"held_out_share": held_out_share, "seed": seed, "epochs": epochs}


def check_params(held_out_share: float, seed: int, epochs: int) -> None:
    if not 0.05 <= held_out_share <= 0.4:
        raise ValidationError(f"held_out_share must be within 0.05–0.4, got {held_out_share}")
    if not 1 <= epochs <= 500:
        raise ValidationError(f"epochs must be within 1–500, got {epochs}")
    if seed < 0:
        raise ValidationError(f"seed must be ≥ 0, got {seed}")


# -- build graphs ----------------------------------------------------------------------------
def build_graphs(dataset_version: str, catalog: Path) -> dict:
    """The catalog's molecular graphs (every SMILES checked), fingerprints, and the side
    effects reported per drug in the treatment history (cohort shares, no patient rows)."""
    from novamind_core.families.pharmacogenomics.cohort_data import catalog_of
    from novamind_core.families.pharmacogenomics.graphs import DrugGraphs, morgan_fingerprint
    from novamind_core.infrastructure import composition

    store = composition.dataset_store()
    version = store.manifest(dataset_version)["version"]
    medications = store.read(version, "medications")
    trials = store.read(version, "treatment_history")
    composition.audit_trail().record("read", version, purpose="train medication-response: graphs")
    smiles, genes, doses, classes = catalog_of(medications)
    graphs = DrugGraphs(smiles)
    fingerprints = np.stack([morgan_fingerprint(d, smiles[d]) for d in graphs.drugs])
    cat = Catalog(smiles, genes, doses, classes, reported_side_effects(trials))
    cat.save(catalog / "catalog.json")
    np.save(catalog / "fingerprints.npy", fingerprints)
    atoms = [g.num_nodes for g in graphs.graphs]
    return {
        "drugs": len(graphs.drugs),
        "atoms_mean": float(np.mean(atoms)),
        "atoms_max": max(atoms),
    }


def reported_side_effects(trials: pd.DataFrame) -> dict[str, list[tuple[str, float]]]:
    out = {}
    for drug, group in trials.groupby("drug_name"):
        if len(group) < MIN_SIDE_EFFECT_REPORTS:
            continue
        effects = group["side_effects"].dropna().str.split(";").explode()
        shares = (effects.value_counts() / len(group)).round(3)
        out[str(drug)] = [(str(k), float(v)) for k, v in shares.head(5).items()]
    return out


# -- split -----------------------------------------------------------------------------------
def assign(keys: list[str], held_out_share: float, seed: int) -> dict[str, str]:
    """Whole patients to train / validation / test, by a seeded hash of the pseudonym
    (``held_out_share`` each to validation and test)."""
    return patient_split.assign(keys, held_out_share, seed)


def features_frame(enc: C.Encoded, drugs: tuple) -> pd.DataFrame:
    """The encoded pairs as columns: drug, static features, earlier trials."""
    static = pd.DataFrame(enc.static, columns=[f"s{i}" for i in range(enc.static.shape[1])])
    hist_drug = pd.DataFrame(enc.history_drug, columns=[f"hd{j}" for j in range(C.MAX_HISTORY)])
    hist = pd.DataFrame(
        enc.history.reshape(len(enc), -1),
        columns=[f"h{j}_{f}" for j in range(C.MAX_HISTORY) for f in range(C.TRIAL_FEATURES)],
    )
    drug = pd.DataFrame({"drug": [drugs[i] for i in enc.drug]})
    return pd.concat([drug, static, hist_drug, hist], axis=1)


def examples_frame(enc: C.Encoded, ex: C.Examples, split: list[str], drugs: tuple) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "split": split,
            "response": ex.response,
            "side_effect": ex.side_effect,
            "phenotype": ex.primary_phenotype,
        }
    )
    return pd.concat([frame, features_frame(enc, drugs)], axis=1)


def encoded_from(frame: pd.DataFrame, drug_index: dict[str, int]) -> C.Encoded:
    static = frame[[f"s{i}" for i in range(C.STATIC_FEATURES)]].to_numpy(np.float32)
    hist_drug = frame[[f"hd{j}" for j in range(C.MAX_HISTORY)]].to_numpy(np.int64)
    hist = frame[
        [f"h{j}_{f}" for j in range(C.MAX_HISTORY) for f in range(C.TRIAL_FEATURES)]
    ].to_numpy(np.float32)
    drug = np.array([drug_index[d] for d in frame["drug"]], dtype=np.int64)
    return C.Encoded(
        np.ascontiguousarray(static),
        np.ascontiguousarray(hist_drug),
        hist.reshape(len(frame), C.MAX_HISTORY, C.TRIAL_FEATURES),
        drug,
    )


def labels_of(frame: pd.DataFrame) -> np.ndarray:
    return frame[["response", "side_effect"]].to_numpy(np.float64)


def split(
    dataset_version: str, catalog: Path, held_out_share: float, seed: int, examples: Path
) -> dict:
    from novamind_core.families.pharmacogenomics.cohort_data import stored_tables
    from novamind_core.families.pharmacogenomics.graphs import DrugGraphs
    from novamind_core.infrastructure import composition

    cat = Catalog.load(catalog / "catalog.json")
    store = composition.dataset_store()
    _, tables = stored_tables(
        store, dataset_version, composition.audit_trail(), "train medication-response: split"
    )
    unknown = sorted(set(tables["treatment_history"]["drug_name"]) - set(cat.smiles))
    if unknown:
        raise ValidationError(
            f"treatment_history names drugs the medications table lacks: {', '.join(unknown)}"
        )
    ex = C.examples_from_tables(
        tables["patients"], tables["genotypes"], tables["treatment_history"], cat.genes
    )
    if len(ex) == 0:
        raise ValidationError("treatment_history holds no trial: nothing to learn from")
    graphs = DrugGraphs(cat.smiles)
    enc = C.encode(ex.cases, ex.drugs, graphs.index, cat.doses)
    current = C.patient_cases(tables["patients"], tables["genotypes"], tables["treatment_history"])
    keys = sorted(current)
    where = assign(keys, held_out_share, seed)
    frame = examples_frame(enc, ex, [where[k] for k in ex.keys], graphs.drugs)
    write_frame(examples, "examples", frame)
    # every patient as a request would send them (whole history), for the percentiles and
    # the drift reference: the training patients' predictions are the yardstick
    now = C.encode(
        [current[k] for k in keys], [graphs.drugs[0]] * len(keys), graphs.index, cat.doses
    )
    patients = pd.concat(
        [pd.DataFrame({"split": [where[k] for k in keys]}), features_frame(now, graphs.drugs)],
        axis=1,
    )
    write_frame(examples, "patients", patients)
    stats: dict[str, float] = {"examples": len(frame), "patients": len(where)}
    for name in SPLITS:
        part = frame[frame["split"] == name]
        stats[f"{name}_examples"] = len(part)
        stats[f"{name}_response_rate"] = float(part["response"].mean())
        stats[f"{name}_side_effect_rate"] = float(part["side_effect"].mean())
    stats["assessed_share"] = float(frame["response"].notna().mean())
    return stats


# -- train -----------------------------------------------------------------------------------
def _load(examples: Path, catalog: Path):
    from novamind_core.families.pharmacogenomics.graphs import DrugGraphs

    cat = Catalog.load(catalog / "catalog.json")
    graphs = DrugGraphs(cat.smiles)
    frame = read_frame(examples, "examples")
    parts = {name: frame[frame["split"] == name].reset_index(drop=True) for name in SPLITS}
    return cat, graphs, parts


def _training_patients(examples: Path, graphs) -> C.Encoded:
    frame = read_frame(examples, "patients")
    return encoded_from(frame[frame["split"] == "train"].reset_index(drop=True), graphs.index)


def _fit_network(examples: Path, catalog: Path, seed: int, epochs: int, out: Path, blind: bool):
    import torch

    from novamind_core.families.pharmacogenomics.bundle import save_network
    from novamind_core.families.pharmacogenomics.training import fit

    torch.set_num_threads(max(1, torch.get_num_threads()))
    _, graphs, parts = _load(examples, catalog)
    train = encoded_from(parts["train"], graphs.index)
    val = encoded_from(parts["validation"], graphs.index)
    if blind:
        train, val = train.blind(), val.blind()
    net, info = fit(
        train,
        labels_of(parts["train"]),
        val,
        labels_of(parts["validation"]),
        graphs.batch(),
        seed=seed,
        epochs=epochs,
    )
    save_network(net, info, out)
    return info, graphs, parts


def train_gnn(examples: Path, catalog: Path, seed: int, epochs: int, model: Path) -> dict:
    info, _, _ = _fit_network(examples, catalog, seed, epochs, model, blind=False)
    return {
        "epochs": info["epochs"],
        "best_val_loss": info["best_val_loss"],
        "train_seconds": info["seconds"],
    }


def train_baselines(
    examples: Path, catalog: Path, seed: int, epochs: int, blind: Path, boosted: Path
) -> dict:
    from novamind_core.families.pharmacogenomics.baselines import fit_baseline

    info, graphs, parts = _fit_network(examples, catalog, seed, epochs, blind, blind=True)
    fingerprints = np.load(catalog / "fingerprints.npy")
    model, boost = fit_baseline(
        encoded_from(parts["train"], graphs.index),
        labels_of(parts["train"]),
        encoded_from(parts["validation"], graphs.index),
        labels_of(parts["validation"]),
        fingerprints,
        seed,
    )
    boosted.mkdir(parents=True, exist_ok=True)
    for head, m in zip(("response", "side_effect"), model.models, strict=True):
        m.save_model(boosted / f"{head}.json")
    return {
        "blind_epochs": info["epochs"],
        "blind_train_seconds": info["seconds"],
        "xgboost_train_seconds": boost["seconds"],
        "xgboost_trees_response": boost["trees"][0],
        "xgboost_trees_side_effect": boost["trees"][1],
    }


def load_boosted(boosted: Path, fingerprints: np.ndarray):
    from xgboost import XGBClassifier

    from novamind_core.families.pharmacogenomics.baselines import BoostedBaseline

    models = []
    for head in ("response", "side_effect"):
        m = XGBClassifier()
        m.load_model(boosted / f"{head}.json")
        models.append(m)
    return BoostedBaseline(fingerprints, models)


# -- evaluate --------------------------------------------------------------------------------
def evaluate(
    examples: Path,
    catalog: Path,
    gnn: Path,
    blind: Path,
    boosted: Path,
    expected_effects: str,
    evaluation: Path,
    charts: Path,
    bundle: Path,
    reference: Path,
) -> dict:
    import shutil

    from novamind_core.families.pharmacogenomics import evaluation as E
    from novamind_core.families.pharmacogenomics.bundle import load_network
    from novamind_core.families.pharmacogenomics.training import predict_proba
    from novamind_core.infrastructure import composition
    from novamind_core.infrastructure.monitoring.drift_reference import write_reference

    cat, graphs, parts = _load(examples, catalog)
    batch = graphs.batch()
    test = parts["test"]
    enc = encoded_from(test, graphs.index)
    y = labels_of(test)
    nets = {"gnn": load_network(gnn), "genotype_blind": load_network(blind)}
    predictions = {
        "gnn": predict_proba(nets["gnn"], batch, enc),
        "genotype_blind": predict_proba(nets["genotype_blind"], batch, enc.blind()),
        "xgboost": load_boosted(boosted, np.load(catalog / "fingerprints.npy")).predict_proba(enc),
    }
    metrics = {name: E.model_metrics(y, p) for name, p in predictions.items()}
    truth = json.loads(expected_effects) if expected_effects else None
    effects = E.phenotype_effects(list(test["phenotype"]), y, predictions, truth)
    g, b = metrics["gnn"]["side_effect"], metrics["genotype_blind"]["side_effect"]
    gates = {
        "enough_held_out": g["n"] >= MIN_HELD_OUT_TRIALS,
        "beats_genotype_blind": bool(g["roc_auc"] > b["roc_auc"] and g["log_loss"] < b["log_loss"]),
        "calibrated": bool(all(metrics["gnn"][h]["ece"] <= ECE_BOUND for h in E.HEADS)),
    }
    result = {
        "held_out_trials": len(test),
        "held_out_assessed": int((~np.isnan(y[:, 0])).sum()),
        "models": metrics,
        "phenotype_effects": effects,
        "ece_bound": ECE_BOUND,
        "training": {
            "gnn": json.loads((gnn / "config.json").read_text()),
            "genotype_blind": json.loads((blind / "config.json").read_text()),
        },
    }
    if truth:
        result["planted_ceiling"] = E.planted_ceiling(list(test["phenotype"]), y, truth)
        result["effect_error"] = {name: E.effect_error(effects, name) for name in predictions}
    write_json(evaluation / "evaluation.json", {"evaluation": result, "gates": gates}, indent=2)
    E.reliability_plot(y, predictions, charts / "reliability.png")
    # the bundle the registered version serves
    bundle.mkdir(parents=True, exist_ok=True)
    cat.save(bundle / "catalog.json")
    for name, folder in (("gnn", gnn), ("blind", blind)):
        shutil.copytree(folder, bundle / name, dirs_exist_ok=True)
    train = _training_patients(examples, graphs)
    reference_quantiles = {
        "gnn": benefit_quantiles(nets["gnn"], batch, train, graphs.drugs),
        "blind": benefit_quantiles(nets["genotype_blind"], batch, train.blind(), graphs.drugs),
    }
    (bundle / "reference.json").write_text(json.dumps(reference_quantiles))
    write_reference(
        drift_reference(nets["gnn"], batch, train, graphs.drugs),
        reference,
        composition.settings().require_encryption_key(),
    )
    figures = {
        f"{name}_{head}_{metric}": metrics[name][head][metric]
        for name in metrics
        for head in E.HEADS
        for metric in ("roc_auc", "brier", "ece")
    }
    return {**figures, **{f"gate_{k}": float(v) for k, v in gates.items()}}


def _all_drugs(enc: C.Encoded, drugs: tuple) -> C.Encoded:
    """Every example's patient paired with every drug."""
    n, k = len(enc), len(drugs)
    rows = np.repeat(np.arange(n), k)
    paired = enc.take(rows)
    paired.drug = np.tile(np.arange(k, dtype=np.int64), n)
    return paired


def benefit_quantiles(net, batch, train: C.Encoded, drugs: tuple) -> dict[str, list[float]]:
    """Per drug, 101 quantiles of the training patients' predicted benefit."""
    from novamind_core.families.pharmacogenomics.training import predict_proba

    proba = predict_proba(net, batch, _all_drugs(train, drugs)).reshape(len(train), len(drugs), 2)
    scores = benefit(proba[:, :, 0], proba[:, :, 1])
    q = np.linspace(0, 1, 101)
    return {d: np.round(np.quantile(scores[:, i], q), 5).tolist() for i, d in enumerate(drugs)}


def drift_reference(
    net, batch, train: C.Encoded, drugs: tuple, max_rows: int = 5000
) -> pd.DataFrame:
    """What the payload log records per answered patient, at the training patients: the
    CYP2D6 activity score, the number of earlier trials, the candidates, and the top
    efficacy among the drugs indicated for the patient's diagnosis."""
    from novamind_core.families.pharmacogenomics.knowledge_base import load_knowledge_base
    from novamind_core.families.pharmacogenomics.training import predict_proba

    if len(train) > max_rows:
        train = train.take(np.sort(np.random.default_rng(0).choice(len(train), max_rows, False)))
    indications = load_knowledge_base().indications
    proba = predict_proba(net, batch, _all_drugs(train, drugs)).reshape(len(train), len(drugs), 2)
    diagnosis_at = C.GENOTYPE_FEATURES
    top, candidates = [], []
    for i in range(len(train)):
        diagnosis = C.DIAGNOSES[
            int(np.argmax(train.static[i, diagnosis_at : diagnosis_at + len(C.DIAGNOSES)]))
        ]
        wanted = [j for j, d in enumerate(drugs) if d in indications.get(diagnosis, drugs)]
        top.append(float(proba[i, wanted, 0].max()) if wanted else math.nan)
        candidates.append(float(len(wanted)))
    return pd.DataFrame(
        {
            "cyp2d6_activity_score": C.cyp2d6_activity(train.static),
            "prior_trials": (train.history_drug >= 0).sum(axis=1).astype(float),
            "candidates": candidates,
            PREDICTION: top,
        }
    )


def expected_from(text: str) -> str:
    """The generator's planted pharmacogenomic effects, from ground_truth.json (its
    ``pharmacogenomics`` part) or that part alone; empty: none."""
    if not text:
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        raise ValidationError("expected_effects must be JSON (or @FILE of JSON)") from None
    part = data.get("pharmacogenomics", data) if isinstance(data, dict) else None
    needed = (
        "base_response_probability",
        "base_side_effect_probability",
        "response_logit_shift_by_phenotype",
        "side_effect_logit_shift_by_phenotype",
    )
    if not isinstance(part, dict) or any(k not in part for k in needed):
        raise ValidationError(
            "expected_effects needs the planted shifts of ground_truth.json's "
            f"'pharmacogenomics' part ({', '.join(needed)})"
        )
    return json.dumps(part)
