"""The gradient-boosting baseline: XGBoost on the drug's Morgan fingerprint and the
patient's features (the same static features as the network, and a summary of the
earlier trials: how many, how many responded, how many had side effects).

One classifier per head, early-stopped on the validation patients; the response head
learns from assessed trials only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from novamind_core.families.pharmacogenomics.cases import Encoded

PARAMS = {
    "n_estimators": 400,
    "max_depth": 4,
    "learning_rate": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.5,
    "min_child_weight": 2.0,
    "early_stopping_rounds": 30,
    "eval_metric": "logloss",
    "tree_method": "hist",
}


def design_matrix(enc: Encoded, fingerprints: np.ndarray) -> np.ndarray:
    present = enc.history_drug >= 0
    summary = np.stack(
        [
            present.sum(axis=1),
            enc.history[:, :, 1].sum(axis=1),  # responded
            enc.history[:, :, 4].sum(axis=1),  # side effect
            enc.history[:, :, 5].sum(axis=1),  # stopped for side effects
        ],
        axis=1,
    ).astype(np.float32)
    return np.hstack([enc.static, summary, fingerprints[enc.drug]])


@dataclass
class BoostedBaseline:
    fingerprints: np.ndarray  # (drugs, bits), rows in the catalog's drug order
    models: list  # response, side effect

    def predict_proba(self, enc: Encoded) -> np.ndarray:
        x = design_matrix(enc, self.fingerprints)
        return np.stack([m.predict_proba(x)[:, 1] for m in self.models], axis=1)


def fit_baseline(
    train: Encoded,
    train_labels: np.ndarray,
    validation: Encoded,
    validation_labels: np.ndarray,
    fingerprints: np.ndarray,
    seed: int = 0,
) -> tuple[BoostedBaseline, dict]:
    from xgboost import XGBClassifier

    started = time.perf_counter()
    x_train = design_matrix(train, fingerprints)
    x_val = design_matrix(validation, fingerprints)
    models, rounds = [], []
    for head in range(2):
        known = ~np.isnan(train_labels[:, head])
        known_val = ~np.isnan(validation_labels[:, head])
        model = XGBClassifier(**PARAMS, random_state=seed, n_jobs=2)
        model.fit(
            x_train[known],
            train_labels[known, head],
            eval_set=[(x_val[known_val], validation_labels[known_val, head])],
            verbose=False,
        )
        models.append(model)
        rounds.append(int(model.best_iteration) + 1)
    info = {"seconds": round(time.perf_counter() - started, 2), "trees": rounds}
    return BoostedBaseline(fingerprints, models), info
