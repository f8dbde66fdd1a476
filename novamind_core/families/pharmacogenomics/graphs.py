"""Drug molecular graphs from the catalog's SMILES (RDKit → PyTorch Geometric).

Atoms are nodes with the usual features (element, degree, formal charge, aromaticity,
hybridization, attached hydrogens, ring membership); bonds are edges in both directions
with their type, conjugation and ring membership. The graphs carry no patient data: they
are built once per catalog and cached (``save`` / ``load``) beside the model.

A SMILES RDKit cannot parse is a ``ValidationError`` naming the drug and the text.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from novamind_core.domain.errors import ValidationError

ELEMENTS = ("C", "N", "O", "S", "F", "Cl", "Br")  # anything else: "other"
HYBRIDIZATIONS = ("SP", "SP2", "SP3")  # anything else: "other"
BOND_TYPES = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")
ATOM_FEATURES = len(ELEMENTS) + 1 + 5 + 1 + 1 + len(HYBRIDIZATIONS) + 1 + 4 + 1
BOND_FEATURES = len(BOND_TYPES) + 2


def _one_hot(value, options) -> list[float]:
    out = [0.0] * (len(options) + 1)
    out[options.index(value) if value in options else len(options)] = 1.0
    return out


def atom_features(atom) -> list[float]:
    degree = [0.0] * 5
    degree[min(atom.GetDegree(), 4)] = 1.0
    hydrogens = [0.0] * 4
    hydrogens[min(atom.GetTotalNumHs(), 3)] = 1.0
    return [
        *_one_hot(atom.GetSymbol(), ELEMENTS),
        *degree,
        float(atom.GetFormalCharge()),
        float(atom.GetIsAromatic()),
        *_one_hot(str(atom.GetHybridization()), HYBRIDIZATIONS),
        *hydrogens,
        float(atom.IsInRing()),
    ]


def bond_features(bond) -> list[float]:
    kind = [float(str(bond.GetBondType()) == t) for t in BOND_TYPES]
    return [*kind, float(bond.GetIsConjugated()), float(bond.IsInRing())]


def molecule(drug: str, smiles: str):
    """The RDKit molecule of a catalog SMILES, or a ValidationError naming the drug."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")  # the error below says what was wrong, once
    mol = Chem.MolFromSmiles(smiles) if isinstance(smiles, str) and smiles.strip() else None
    if mol is None or mol.GetNumAtoms() == 0:
        raise ValidationError(
            f"medications: the SMILES of {drug!r} is not a valid molecule: {smiles!r}"
        )
    return mol


def drug_graph(drug: str, smiles: str):
    """A ``torch_geometric.data.Data`` graph: ``x`` atoms, ``edge_index`` / ``edge_attr``
    bonds in both directions."""
    import torch
    from torch_geometric.data import Data

    mol = molecule(drug, smiles)
    x = torch.tensor([atom_features(a) for a in mol.GetAtoms()], dtype=torch.float32)
    sources, targets, attrs = [], [], []
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        features = bond_features(bond)
        sources += [i, j]
        targets += [j, i]
        attrs += [features, features]
    edge_index = torch.tensor([sources, targets], dtype=torch.long).reshape(2, -1)
    edge_attr = torch.tensor(attrs, dtype=torch.float32).reshape(-1, BOND_FEATURES)
    return Data(x=x, edge_index=edge_index, edge_attr=edge_attr, num_nodes=mol.GetNumAtoms())


def morgan_fingerprint(drug: str, smiles: str, bits: int = 1024, radius: int = 2) -> np.ndarray:
    """The Morgan (ECFP4-like) bit vector of a drug, for the gradient-boosting baseline."""
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=bits)
    return generator.GetFingerprintAsNumPy(molecule(drug, smiles)).astype(np.float32)


class DrugGraphs:
    """The catalog's graphs in a fixed drug order (the model's drug index)."""

    def __init__(self, smiles: Mapping[str, str]) -> None:
        self.drugs: tuple[str, ...] = tuple(sorted(smiles))
        self.smiles = {d: smiles[d] for d in self.drugs}
        self.graphs = [drug_graph(d, self.smiles[d]) for d in self.drugs]
        self.index = {d: i for i, d in enumerate(self.drugs)}

    def batch(self):
        """Every drug's graph in one PyG ``Batch`` (the model encodes them all at once)."""
        from torch_geometric.data import Batch

        return Batch.from_data_list(self.graphs)

    def position(self, drug: str) -> int:
        try:
            return self.index[drug]
        except KeyError:
            raise ValidationError(
                f"unknown drug {drug!r}; the catalog has: {', '.join(self.drugs)}"
            ) from None
