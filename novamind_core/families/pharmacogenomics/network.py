"""The medication-response network (GPDRP-style): a GIN over the drug's molecular graph,
a patient encoder, attention fusing the two, and two heads.

* Drug encoder: ``GINEConv`` layers (Graph Isomorphism Network with bond features) over
  the atoms; every catalog drug is encoded once per step (there are a few dozen), and a
  pair looks its drug up.
* Patient encoder: an MLP over genotype (phenotypes, activity score), diagnosis, age band
  and sex; a GRU over the earlier trials, each trial being its drug's embedding with its
  dose, response and side effects.
* Fusion: the patient encoding attends over the drug's atom embeddings (multi-head
  attention; the weights say which atoms mattered to this patient), joined with the
  pooled drug embedding.
* Heads: response probability and side-effect probability (logits).

Class imbalance: the positive class of each head is weighted by its negative/positive
ratio in the training set, and the weight's log is subtracted from the logit afterwards
(the prior correction that makes a weighted logistic loss calibrated again).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.nn import GINEConv, global_mean_pool
from torch_geometric.utils import to_dense_batch

from novamind_core.families.pharmacogenomics.cases import (
    GENOTYPE_FEATURES,
    PHENOTYPES,
    STATIC_FEATURES,
    TRIAL_FEATURES,
)
from novamind_core.families.pharmacogenomics.graphs import ATOM_FEATURES, BOND_FEATURES

# bumped whenever the layers change: saved weights load only into the architecture they fit
ARCHITECTURE = 2
GENES = (GENOTYPE_FEATURES - 1) // (len(PHENOTYPES) + 1)


@dataclass(frozen=True)
class NetworkConfig:
    hidden: int = 64
    gin_layers: int = 3
    heads: int = 4
    dropout: float = 0.1
    response_pos_weight: float = 1.0
    side_effect_pos_weight: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


class DrugEncoder(nn.Module):
    def __init__(self, hidden: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Linear(ATOM_FEATURES, hidden)
        self.convs = nn.ModuleList(
            GINEConv(
                nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden)),
                edge_dim=BOND_FEATURES,
                train_eps=True,
            )
            for _ in range(layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))

    def forward(self, graphs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(atoms (drugs, max_atoms, hidden), atom mask, pooled (drugs, hidden))."""
        h = self.embed(graphs.x)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = norm(h + torch.relu(conv(h, graphs.edge_index, graphs.edge_attr)))
        atoms, mask = to_dense_batch(h, graphs.batch)
        return atoms, mask, global_mean_pool(h, graphs.batch)


class MedicationResponseNet(nn.Module):
    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        hidden = config.hidden
        self.config = config
        self.drugs = DrugEncoder(hidden, config.gin_layers)
        self.static = nn.Sequential(
            nn.Linear(STATIC_FEATURES, hidden), nn.ReLU(), nn.Dropout(config.dropout)
        )
        self.trial = nn.Linear(hidden + TRIAL_FEATURES, hidden)
        self.history = nn.GRU(hidden, hidden, batch_first=True)
        self.patient = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU())
        self.attention = nn.MultiheadAttention(
            hidden, config.heads, dropout=config.dropout, batch_first=True
        )
        self.body = nn.Sequential(
            nn.Linear(6 * hidden, hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
        )
        # genetics as tokens, one per gene (its phenotype one-hot, the activity score) and a
        # learned "no gene" token; the drug's embedding attends over them
        self.gene_token = nn.Linear(len(PHENOTYPES) + 2, hidden)
        self.gene_identity = nn.Parameter(torch.zeros(GENES + 1, hidden))
        nn.init.normal_(self.gene_identity, std=0.1)
        self.gene_attention = nn.MultiheadAttention(hidden, config.heads, batch_first=True)
        self.heads = nn.Linear(hidden, 2)
        self.register_buffer(
            "prior_shift",
            torch.tensor(
                [math.log(config.response_pos_weight), math.log(config.side_effect_pos_weight)]
            ),
        )

    def encode_patients(self, static, history_drug, history, pooled) -> torch.Tensor:
        s = self.static(static)
        present = history_drug >= 0
        trial_drug = pooled[history_drug.clamp(min=0)] * present.unsqueeze(-1)
        steps = torch.relu(self.trial(torch.cat([trial_drug, history], dim=-1)))
        lengths = present.sum(dim=1)
        summary = torch.zeros_like(s)
        has = lengths > 0
        if has.any():  # trials are left-aligned: the GRU reads each patient's own length
            packed = nn.utils.rnn.pack_padded_sequence(
                steps[has], lengths[has].cpu(), batch_first=True, enforce_sorted=False
            )
            _, last = self.history(packed)
            summary[has] = last[-1]
        return self.patient(torch.cat([s, summary], dim=-1))

    def forward(self, graphs, static, history_drug, history, drug, attention=False, encoded=None):
        """Logits (N, 2): response, side effect — calibrated (prior correction applied).
        With ``attention``, also the atom attention weights (N, max_atoms). ``encoded``:
        the drug encoder's output for ``graphs``, when already computed (it does not
        depend on the patient, and has no dropout)."""
        features, weights = self.features(
            graphs, static, history_drug, history, drug, attention, encoded
        )
        logits = self.head(features)
        return (logits, weights) if attention else logits

    def features(self, graphs, static, history_drug, history, drug, attention=False, encoded=None):
        """What the prediction head reads, per pair; and the atom attention weights (or
        None)."""
        atoms, mask, pooled = encoded if encoded is not None else self.drugs(graphs)
        patient = self.encode_patients(static, history_drug, history, pooled)
        fused, weights = self.atom_attention(patient, atoms, mask, drug, attention)
        d = pooled[drug]
        genetic = self.genetics(static, d)
        features = torch.cat([patient, fused, d, patient * d, genetic, genetic * d], dim=-1)
        return features, weights

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return self.heads(self.body(features)) - self.prior_shift

    def sampled_head(self, features: torch.Tensor, samples: int) -> torch.Tensor:
        """``samples`` draws of the head's logits with its dropout on (Monte Carlo
        dropout of the prediction head): (samples, N, 2)."""
        dropouts = [m for m in self.body if isinstance(m, nn.Dropout)]
        for m in dropouts:
            m.training = True
        try:
            logits = self.head(features.repeat(samples, 1))
        finally:
            for m in dropouts:
                m.training = False
        return logits.reshape(samples, len(features), 2)

    def atom_attention(self, patient, atoms, mask, drug, weights: bool = False):
        """The patient attends over the pair's drug's atoms (``self.attention``); keys and
        values are projected once per drug, not once per pair (a ranking pairs one patient
        with 20 drugs, 16 times over for its uncertainty)."""
        return attend(self.attention, patient, atoms, drug, mask, weights)

    def genetics(self, static: torch.Tensor, drug: torch.Tensor) -> torch.Tensor:
        """The drug's view of the patient's genes: attention of the drug embedding over
        one token per gene and a "no gene" token."""
        width = len(PHENOTYPES) + 1
        genes = static[:, : GENOTYPE_FEATURES - 1].reshape(-1, GENES, width)
        activity = torch.zeros_like(genes[:, :, :1])
        activity[:, 0, 0] = static[:, GENOTYPE_FEATURES - 1]  # CYP2D6's activity score
        tokens = self.gene_token(torch.cat([genes, activity], dim=-1))
        none = torch.zeros_like(tokens[:, :1])
        tokens = torch.cat([tokens, none], dim=1) + self.gene_identity
        return attend(self.gene_attention, drug, tokens)[0]


def attend(mha: nn.MultiheadAttention, query, memory, index=None, mask=None, weights=False):
    """What ``mha(query, memory[index], memory[index], key_padding_mask=~mask[index])``
    computes for one query per row (its parameters, its dropout in training mode) —
    without materializing the per-row keys and values: ``memory`` (m, length, E) is
    projected once and rows look theirs up by ``index`` (None: row i is memory i).
    Returns (output (n, E), attention weights averaged over heads (n, length) or None)."""
    heads, width = mha.num_heads, mha.head_dim
    w_q, w_k, w_v = mha.in_proj_weight.chunk(3)
    b_q, b_k, b_v = mha.in_proj_bias.chunk(3)
    m, length = memory.shape[0], memory.shape[1]
    keys = F.linear(memory, w_k, b_k).view(m, length, heads, width).transpose(1, 2)
    values = F.linear(memory, w_v, b_v).view(m, length, heads, width).transpose(1, 2)
    if index is not None:
        keys, values = keys[index], values[index]
    n = keys.shape[0]
    q = F.linear(query, w_q, b_q).view(n, heads, 1, width)
    scores = (q @ keys.transpose(-1, -2)) / math.sqrt(width)  # (n, heads, 1, length)
    if mask is not None:
        keep = (mask[index] if index is not None else mask)[:, None, None, :]
        scores = scores.masked_fill(~keep, float("-inf"))
    scores = scores.softmax(dim=-1)
    mixed = F.dropout(scores, mha.dropout, mha.training) @ values
    out = mha.out_proj(mixed.reshape(n, heads * width))
    return out, (scores.mean(dim=1).squeeze(1) if weights else None)
