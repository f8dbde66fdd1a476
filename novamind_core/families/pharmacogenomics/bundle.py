"""The fitted medication-response models as files, and back: the GNN, its genotype-blind
twin (what a patient without a genotype is predicted with), the catalog they were
trained on, and the training reference of each drug's predicted benefit (percentiles).

Layout of a bundle folder::

    catalog.json        smiles, metabolizing genes, dose range, class, reported side effects
    gnn/  blind/        network.pt (state dict) + config.json
    reference.json      per drug: 101 quantiles of the training patients' benefit score
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from novamind_core.families.pharmacogenomics.cases import Encoded, PatientCase, encode
from novamind_core.families.pharmacogenomics.graphs import DrugGraphs

SIDE_EFFECT_WEIGHT = 0.5  # benefit = P(response) − 0.5 × P(side effect)


def benefit(response: np.ndarray, side_effect: np.ndarray) -> np.ndarray:
    return response - SIDE_EFFECT_WEIGHT * side_effect


@dataclass
class Catalog:
    smiles: dict[str, str]
    genes: dict[str, tuple[str, ...]]
    doses: dict[str, tuple[float, float]]
    classes: dict[str, str]
    side_effects: dict[str, list[tuple[str, float]]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "smiles": self.smiles,
            "genes": {k: list(v) for k, v in self.genes.items()},
            "doses": {k: list(v) for k, v in self.doses.items()},
            "classes": self.classes,
            "side_effects": {k: [list(e) for e in v] for k, v in self.side_effects.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> Catalog:
        return cls(
            data["smiles"],
            {k: tuple(v) for k, v in data["genes"].items()},
            {k: (float(v[0]), float(v[1])) for k, v in data["doses"].items()},
            data["classes"],
            {
                k: [(str(e[0]), float(e[1])) for e in v]
                for k, v in data.get("side_effects", {}).items()
            },
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> Catalog:
        return cls.from_dict(json.loads(path.read_text()))


def save_network(net, info: dict, folder: Path) -> None:
    import torch

    from novamind_core.families.pharmacogenomics.network import ARCHITECTURE

    folder.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), folder / "network.pt")
    (folder / "config.json").write_text(
        json.dumps({**info, "architecture": ARCHITECTURE}, indent=1)
    )


def load_network(folder: Path):
    import torch

    from novamind_core.families.pharmacogenomics.network import (
        ARCHITECTURE,
        MedicationResponseNet,
        NetworkConfig,
    )

    info = json.loads((folder / "config.json").read_text())
    built = info.get("architecture", 1)
    if built != ARCHITECTURE:
        raise ValueError(
            f"this medication-response network was trained with architecture {built}; the "
            f"installed code builds architecture {ARCHITECTURE}: retrain it (run the "
            "pharmacogenomics pipeline) or serve it with the code version it was trained with"
        )
    net = MedicationResponseNet(NetworkConfig(**info["config"]))
    net.load_state_dict(torch.load(folder / "network.pt", weights_only=True))
    net.eval()
    return net


class Predictor:
    """The loaded bundle: predicts (patient, drug) pairs with the GNN, or with the
    genotype-blind network for patients without a genotype."""

    def __init__(self, folder: Path) -> None:
        self.catalog = Catalog.load(folder / "catalog.json")
        self.graphs = DrugGraphs(self.catalog.smiles)
        self.batch = self.graphs.batch()
        self.gnn = load_network(folder / "gnn")
        self.blind = load_network(folder / "blind")
        from novamind_core.families.pharmacogenomics.training import encode_drugs

        self.nets = {True: self.gnn, False: self.blind}  # by: is the genotype used
        self.encoded = {used: encode_drugs(net, self.batch) for used, net in self.nets.items()}
        reference = folder / "reference.json"
        self.reference = json.loads(reference.read_text()) if reference.exists() else {}

    @property
    def drugs(self) -> tuple[str, ...]:
        return self.graphs.drugs

    def encode(self, cases: list[PatientCase], drugs: list[str], genotype: bool) -> Encoded:
        return encode(cases, drugs, self.graphs.index, self.catalog.doses, genotype=genotype)

    def predict(
        self, cases: list[PatientCase], drugs: list[str], samples: int = 0
    ) -> dict[str, np.ndarray]:
        """Per pair: response and side-effect probabilities, whether the genotype was used,
        and (``samples`` > 0) their Monte Carlo dropout spread."""
        from novamind_core.families.pharmacogenomics.training import (
            predict_proba,
            predict_with_uncertainty,
        )

        n = len(cases)
        genotyped = np.array([c.genotyped for c in cases], dtype=bool)
        proba = np.zeros((n, 2), dtype=np.float64)
        spread = np.zeros((n, 2), dtype=np.float64)
        for use_genotype, net in self.nets.items():
            rows = np.flatnonzero(genotyped == use_genotype)
            if len(rows) == 0:
                continue
            enc = self.encode([cases[i] for i in rows], [drugs[i] for i in rows], use_genotype)
            encoded = self.encoded[use_genotype]
            if samples:
                mean, std = predict_with_uncertainty(net, self.batch, enc, samples, encoded)
                proba[rows], spread[rows] = mean, std
            else:
                proba[rows] = predict_proba(net, self.batch, enc, encoded=encoded)
        return {
            "response": proba[:, 0],
            "side_effect": proba[:, 1],
            "response_spread": spread[:, 0],
            "side_effect_spread": spread[:, 1],
            "genotype_used": genotyped,
        }

    def percentile(self, drug: str, value: float, genotype_used: bool = True) -> float | None:
        """Share (0–100) of the training patients' benefit for this drug below ``value``,
        as the same network (GNN, or genotype-blind) predicted it for them."""
        quantiles = self.reference.get("gnn" if genotype_used else "blind", {}).get(drug)
        if not quantiles:
            return None
        return float(np.interp(value, quantiles, np.linspace(0, 100, len(quantiles))))
