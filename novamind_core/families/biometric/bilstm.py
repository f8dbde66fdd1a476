"""A bidirectional LSTM with attention over days: 28 days of wearables and self-reports →
the next 7 days' PHQ-9, GAD-7 and mood as 10th/50th/90th percentiles, and, per
prediction, the days and signals it attended to (``temporal_patterns``).

The network, day by day and then per prediction:

1. *Signal gate*: from the day's standardized values and their masks, a softmax over the
   seven signals weighs each value (a missing value is 0 and its mask says so). The
   gate is what "which signals mattered" reports.
2. *BiLSTM* over the 28 gated days (both directions), plus a learned position vector.
3. *Attention*: one learned query per (horizon, symptom) scores every day from its
   BiLSTM state (the day in its context); what it takes from the day is that day's own
   gated inputs, so what a prediction draws from a given day passes through that day's
   weight. Days with no record at all (and the padding before a patient's first day)
   are masked out: the weights of a prediction sum to one over the days with data.
4. *Head*: per (horizon, symptom), the attended context beside the sequence summary
   (the last step of both directions) → median and two non-negative offsets, so the
   10th ≤ 50th ≤ 90th percentile by construction.

Trained with the pinball loss of the three quantiles on the observed target days only
(standardized target units), early stopping on the validation patients' loss, the best
epoch's weights kept.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from novamind_core.families.biometric.prediction_windows import (
    HORIZON,
    LOOKBACK,
    TARGETS,
    Scaling,
    Windows,
)
from novamind_core.families.biometric.predictor_baselines import Forecast
from novamind_core.families.biometric.signals import SIGNALS

log = logging.getLogger(__name__)
QUANTILES = (0.1, 0.5, 0.9)
ARCHITECTURE = 1  # bumped when a saved network no longer fits this code


@dataclass(frozen=True)
class BiLstmSettings:
    hidden: int = 32
    dropout: float = 0.1
    max_epochs: int = 6
    patience: int = 2
    batch_size: int = 256
    learning_rate: float = 3e-3
    max_train_windows: int = 20_000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.hidden < 4 or self.max_epochs < 1 or self.batch_size < 8:
            raise ValueError("hidden ≥ 4, max_epochs ≥ 1 and batch_size ≥ 8 are needed")
        if not 0 <= self.dropout < 1:
            raise ValueError("dropout must lie in [0, 1)")


class BiLstmAttention(nn.Module):
    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        v = len(SIGNALS)
        self.queries_n = HORIZON * len(TARGETS)
        self.gate = nn.Linear(2 * v, v)
        self.embed = nn.Linear(2 * v, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True, bidirectional=True)
        self.position = nn.Parameter(torch.zeros(LOOKBACK, 2 * hidden))
        self.key = nn.Linear(2 * hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.query = nn.Parameter(torch.randn(self.queries_n, hidden) * 0.1)
        self.dropout = nn.Dropout(dropout)
        features = 3 * hidden
        self.head_weight = nn.Parameter(torch.randn(self.queries_n, features, 3) * 0.05)
        self.head_bias = nn.Parameter(torch.zeros(self.queries_n, 3))

    def forward(self, inputs: torch.Tensor):
        """inputs (N, L, 2V) → quantiles (N, H, S, 3), attention (N, H, S, L), gate (N, L, V)."""
        v = len(SIGNALS)
        values, masks = inputs[..., :v], inputs[..., v:]
        gate = torch.softmax(self.gate(inputs), dim=-1)
        day = torch.relu(self.embed(torch.cat([values * gate * v, masks], dim=-1)))
        states, _ = self.lstm(self.dropout(day))
        states = states + self.position
        hidden = states.shape[-1] // 2
        summary = torch.cat([states[:, -1, :hidden], states[:, 0, hidden:]], dim=-1)
        keys = torch.tanh(self.key(states))  # (N, L, h)
        scores = torch.einsum("qh,nlh->nql", self.query, keys) / keys.shape[-1] ** 0.5
        has_data = masks.amax(dim=-1) > 0  # (N, L)
        scores = scores.masked_fill(~has_data[:, None, :], float("-inf"))
        attention = torch.softmax(scores, dim=-1)
        attention = torch.nan_to_num(attention)  # a window without any data: all zero
        context = torch.einsum("nql,nlh->nqh", attention, self.value(day))
        features = torch.cat([context, summary[:, None, :].expand(-1, self.queries_n, -1)], -1)
        raw = torch.einsum("nqf,qfk->nqk", self.dropout(features), self.head_weight)
        raw = raw + self.head_bias
        median = raw[..., 1]
        lower = median - F.softplus(raw[..., 0])
        upper = median + F.softplus(raw[..., 2])
        quantiles = torch.stack([lower, median, upper], dim=-1)
        n = inputs.shape[0]
        return (
            quantiles.view(n, HORIZON, len(TARGETS), 3),
            attention.view(n, HORIZON, len(TARGETS), -1),
            gate,
        )


def pinball_loss(quantiles: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean pinball loss of the three quantiles over the observed (non-NaN) targets."""
    seen = ~torch.isnan(target)
    if not seen.any():
        return quantiles.sum() * 0.0
    diff = torch.nan_to_num(target)[..., None] - quantiles  # (N, H, S, 3)
    q = quantiles.new_tensor(QUANTILES)
    loss = torch.maximum(q * diff, (q - 1) * diff).mean(-1)
    return loss[seen].mean()


class _Module(pl.LightningModule):
    def __init__(self, net: BiLstmAttention, lr: float):
        super().__init__()
        self.net, self.lr = net, lr

    def _loss(self, batch):
        inputs, target = batch
        return pinball_loss(self.net(inputs)[0], target)

    def training_step(self, batch, _):
        loss = self._loss(batch)
        self.log("train_loss", loss, batch_size=len(batch[0]))
        return loss

    def validation_step(self, batch, _):
        self.log("val_loss", self._loss(batch), batch_size=len(batch[0]))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


TRAINING_THREADS = 1  # see ``fit``


def _targets(windows: Windows, scaling: Scaling) -> np.ndarray:
    mean, sd = scaling.target_scale()
    return ((windows.y - mean) / sd).astype(np.float32)


class BiLstmPredictor:
    def __init__(self, net: BiLstmAttention, scaling: Scaling, settings: BiLstmSettings):
        self.net, self.scaling, self.settings = net, scaling, settings
        self.training_seconds = 0.0
        self.epochs_run = 0
        self.best_val_loss = float("nan")
        net.eval()

    @torch.no_grad()
    def forward(self, windows: Windows, batch_size: int = 4096):
        """(Forecast, attention (N, H, S, L), gate (N, L, V)) in original units."""
        if self.net.training:
            self.net.eval()
        inputs = torch.from_numpy(windows.inputs(self.scaling))
        parts = [self.net(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)]
        if parts:
            quantiles = torch.cat([p[0] for p in parts]).numpy()
            attention = torch.cat([p[1] for p in parts]).numpy()
            gate = torch.cat([p[2] for p in parts]).numpy()
        else:
            quantiles = np.zeros((0, HORIZON, len(TARGETS), 3), np.float32)
            attention = np.zeros((0, HORIZON, len(TARGETS), LOOKBACK), np.float32)
            gate = np.zeros((0, LOOKBACK, len(SIGNALS)), np.float32)
        mean, sd = self.scaling.target_scale()
        values = quantiles * sd[None, None, :, None] + mean[None, None, :, None]
        forecast = Forecast(values[..., 1], values[..., 0], values[..., 2])
        return forecast, attention, gate

    def predict(self, windows: Windows) -> Forecast:
        return self.forward(windows)[0]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(self.net.state_dict(), directory / "bilstm.pt")
        meta = {
            "architecture": ARCHITECTURE,
            "settings": asdict(self.settings),
            "scaling": self.scaling.to_dict(),
            "training_seconds": self.training_seconds,
            "epochs_run": self.epochs_run,
            "best_val_loss": self.best_val_loss,
        }
        (directory / "bilstm.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory: Path) -> BiLstmPredictor:
        meta = json.loads((directory / "bilstm.json").read_text())
        if meta.get("architecture") != ARCHITECTURE:
            raise ValueError(
                f"saved BiLSTM is architecture {meta.get('architecture')}, this code reads "
                f"{ARCHITECTURE}: retrain it"
            )
        settings = BiLstmSettings(**meta["settings"])
        net = BiLstmAttention(settings.hidden, settings.dropout)
        net.load_state_dict(torch.load(directory / "bilstm.pt", weights_only=True))
        out = cls(net, Scaling.from_dict(meta["scaling"]), settings)
        out.training_seconds = meta["training_seconds"]
        out.epochs_run = meta["epochs_run"]
        out.best_val_loss = meta["best_val_loss"]
        return out


def fit(
    train: Windows, validation: Windows, scaling: Scaling, settings: BiLstmSettings
) -> BiLstmPredictor:
    """Train on (a seeded subsample of) the training windows; early stopping on the
    validation windows' pinball loss. One torch thread while training (the caller's
    setting restored after): the LSTM's steps are small and sequential, and on cores
    shared with other processes a second OpenMP thread made a batch five to ten times
    slower, not faster (measured on this project's 2-core machines)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(TRAINING_THREADS)
    try:
        return _fit(train, validation, scaling, settings)
    finally:
        torch.set_num_threads(threads)


def _fit(
    train: Windows, validation: Windows, scaling: Scaling, settings: BiLstmSettings
) -> BiLstmPredictor:
    pl.seed_everything(settings.seed, workers=True, verbose=False)
    train = train.sample(settings.max_train_windows, settings.seed)
    net = BiLstmAttention(settings.hidden, settings.dropout)
    module = _Module(net, settings.learning_rate)
    generator = torch.Generator().manual_seed(settings.seed)
    train_loader = DataLoader(
        TensorDataset(
            torch.from_numpy(train.inputs(scaling)), torch.from_numpy(_targets(train, scaling))
        ),
        batch_size=settings.batch_size,
        shuffle=True,
        generator=generator,
    )
    val_loader = DataLoader(
        TensorDataset(
            torch.from_numpy(validation.inputs(scaling)),
            torch.from_numpy(_targets(validation, scaling)),
        ),
        batch_size=4096,
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = pl.callbacks.ModelCheckpoint(
            dirpath=folder, monitor="val_loss", save_top_k=1, save_weights_only=True
        )
        trainer = pl.Trainer(
            max_epochs=settings.max_epochs,
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            deterministic=True,
            callbacks=[
                pl.callbacks.EarlyStopping("val_loss", patience=settings.patience),
                checkpoint,
            ],
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer.fit(module, train_loader, val_loader)
        state = torch.load(checkpoint.best_model_path, weights_only=True)["state_dict"]
        module.load_state_dict(state)
        best = float(checkpoint.best_model_score)
    out = BiLstmPredictor(net, scaling, settings)
    out.training_seconds = round(time.perf_counter() - started, 2)
    out.epochs_run = int(trainer.current_epoch)
    out.best_val_loss = best
    log.info(
        "BiLSTM: %d epochs, %.1f s, best val loss %.4f", out.epochs_run, out.training_seconds, best
    )
    return out
