"""Training the medication-response network with PyTorch Lightning, and predicting with it.

Both heads share one loss: binary cross-entropy of response (only on assessed trials)
plus that of side effects, each positive class weighted by the training set's
negative/positive ratio (see ``network`` for the prior correction). Early stopping on the
validation patients' loss; the best epoch's weights are kept.
"""

from __future__ import annotations

import logging
import tempfile
import time
import warnings

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from novamind_core.families.pharmacogenomics.cases import Encoded
from novamind_core.families.pharmacogenomics.network import MedicationResponseNet, NetworkConfig

log = logging.getLogger(__name__)


def positive_weight(labels: np.ndarray) -> float:
    """Negatives per positive among the known labels (1 when a class is absent)."""
    known = labels[~np.isnan(labels)]
    positives = float(known.sum())
    negatives = float(len(known) - positives)
    return negatives / positives if positives > 0 and negatives > 0 else 1.0


def _tensors(enc: Encoded, labels: np.ndarray | None = None) -> list[torch.Tensor]:
    out = [
        torch.from_numpy(enc.static),
        torch.from_numpy(enc.history_drug),
        torch.from_numpy(enc.history),
        torch.from_numpy(enc.drug),
    ]
    if labels is not None:
        out.append(torch.from_numpy(labels.astype(np.float32)))
    return out


class ResponseModule(pl.LightningModule):
    def __init__(self, net: MedicationResponseNet, graphs, lr: float, weight_decay: float):
        super().__init__()
        self.net = net
        self.graphs = graphs
        self.lr = lr
        self.weight_decay = weight_decay
        weights = net.prior_shift.exp()
        self.losses = [nn.BCEWithLogitsLoss(pos_weight=weights[i : i + 1]) for i in range(2)]

    def _loss(self, batch) -> torch.Tensor:
        static, history_drug, history, drug, y = batch
        raw = self.net(self.graphs, static, history_drug, history, drug) + self.net.prior_shift
        total = raw.new_zeros(())
        for head in range(2):
            known = ~torch.isnan(y[:, head])
            if known.any():
                total = total + self.losses[head](raw[known, head], y[known, head])
        return total

    def training_step(self, batch, _):
        loss = self._loss(batch)
        self.log("train_loss", loss, prog_bar=False, batch_size=len(batch[0]))
        return loss

    def validation_step(self, batch, _):
        self.log("val_loss", self._loss(batch), prog_bar=False, batch_size=len(batch[0]))

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


def fit(
    train: Encoded,
    train_labels: np.ndarray,
    validation: Encoded,
    validation_labels: np.ndarray,
    graphs,
    seed: int = 0,
    epochs: int = 60,
    batch_size: int = 128,
    lr: float = 2e-3,
    weight_decay: float = 1e-4,
    patience: int = 8,
    config: NetworkConfig | None = None,
) -> tuple[MedicationResponseNet, dict]:
    """A trained network and what training did (epochs, best validation loss, seconds).
    ``*_labels``: (N, 2) response, side effect; NaN where unknown."""
    pl.seed_everything(seed, workers=True, verbose=False)
    base = config or NetworkConfig()
    config = NetworkConfig(
        **{
            **base.to_dict(),
            "response_pos_weight": positive_weight(train_labels[:, 0]),
            "side_effect_pos_weight": positive_weight(train_labels[:, 1]),
        }
    )
    net = MedicationResponseNet(config)
    module = ResponseModule(net, graphs, lr, weight_decay)
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(
        TensorDataset(*_tensors(train, train_labels)),
        batch_size=batch_size,
        shuffle=True,
        generator=generator,
    )
    val_loader = DataLoader(
        TensorDataset(*_tensors(validation, validation_labels)), batch_size=4096
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = pl.callbacks.ModelCheckpoint(
            dirpath=folder, monitor="val_loss", save_top_k=1, save_weights_only=True
        )
        trainer = pl.Trainer(
            max_epochs=epochs,
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            deterministic=True,
            callbacks=[pl.callbacks.EarlyStopping("val_loss", patience=patience), checkpoint],
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer.fit(module, train_loader, val_loader)
        best = float(checkpoint.best_model_score)
        state = torch.load(checkpoint.best_model_path, weights_only=True)["state_dict"]
        module.load_state_dict(state)
    net.eval()
    info = {
        "epochs": int(trainer.current_epoch),
        "best_val_loss": best,
        "seconds": round(time.perf_counter() - started, 2),
        "config": config.to_dict(),
    }
    log.info("medication-response network: %s", info)
    return net, info


@torch.no_grad()
def predict_proba(
    net: MedicationResponseNet, graphs, enc: Encoded, batch_size: int = 8192, encoded=None
) -> np.ndarray:
    """(N, 2) probabilities: response, side effect. ``encoded``: the drug encoder's output,
    if kept from an earlier call (see ``encode_drugs``)."""
    if net.training:  # eval() walks every module: a cost per request when serving
        net.eval()
    encoded = encoded if encoded is not None else net.drugs(graphs)
    out = []
    tensors = _tensors(enc)
    for start in range(0, len(enc), batch_size):
        part = [t[start : start + batch_size] for t in tensors]
        out.append(torch.sigmoid(net(graphs, *part, encoded=encoded)).numpy())
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.float32)


@torch.no_grad()
def encode_drugs(net: MedicationResponseNet, graphs):
    """The drug encoder's output for ``graphs``: the same for every patient, kept by a
    server between requests."""
    net.eval()
    return net.drugs(graphs)


@torch.no_grad()
def predict_with_uncertainty(
    net: MedicationResponseNet, graphs, enc: Encoded, samples: int = 16, encoded=None
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (N, 2), their standard deviation over ``samples`` Monte Carlo
    dropout draws of the prediction head (N, 2)). The pair's features are computed once;
    only the head is sampled."""
    if net.training:  # eval() walks every module: a cost per request when serving
        net.eval()
    encoded = encoded if encoded is not None else net.drugs(graphs)
    features, _ = net.features(graphs, *_tensors(enc), encoded=encoded)
    proba = torch.sigmoid(net.head(features))
    draws = torch.sigmoid(net.sampled_head(features, samples))
    return proba.numpy(), draws.std(dim=0).numpy()
