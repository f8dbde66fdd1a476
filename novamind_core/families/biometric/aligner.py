"""A self-supervised multimodal aligner: the wearables of a 28-day window and the
self-reports of the *same* 28 days are embedded by two small encoders so that the pair
from the same patient-days lands close together and every other window's pair far apart.

* *Wearable encoder*: heart rate, HRV, sleep and steps over the window (values + masks).
* *Symptom encoder*: PHQ-9, GAD-7 and mood over the same days (values + masks).

Each encoder is two 1-D convolutions over the days (kernel 5, so a lead of up to two days
between a wearable and a symptom sits inside one receptive field), flattened over the
days (the position of each day is kept: alignment is about *which* days move together)
and projected to an L2-normalized embedding. The similarity of two windows is the
cosine of their embeddings times a learned inverse temperature.

Objective: the symmetric InfoNCE (CLIP) loss. In a batch, the wearable and symptom
windows of the same window are the positive pair and every other window of the batch is
a negative — except windows of the same patient whose days overlap the anchor's (a
window shifted by a few days shares most of its days: it is not a true negative, so it is
left out of the softmax).

No cheating by patient-level offsets: every window's signals are re-standardized *per
window* inside the encoders: each signal has the mean of its own observed days in that
window subtracted and is divided by its own standard deviation over those days (floored
at ``SD_FLOOR`` cohort SDs, so a window with one or two near-equal readings does not blow
up). A patient's level (higher resting heart rate, worse baseline PHQ-9) and spread
(log-normal steps and HRV vary more around a higher level) are thereby invisible: adding
a constant to a window's signals, or scaling one of them, leaves its embedding
unchanged, and alignment can only come from the co-movement of the signals over the
days (in the synthetic cohort: sleep one day before PHQ-9, steps the same day, HRV two
days before GAD-7, mood tracking PHQ-9 daily). What does remain visible is the *mask*:
days with no record of either kind (left padding before a patient's first day, study
dropout) co-occur in both modalities; ``retrieval`` has a ``masks_only`` switch to
measure how much of the alignment that alone explains.

``AlignedRidge`` appends both embeddings to the ridge baseline's design matrix so the
forecasting benefit of the aligned representation can be compared with the plain ridge.
"""

from __future__ import annotations

import copy
import json
import logging
import os
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

from novamind_core.domain.errors import ValidationError
from novamind_core.families.biometric.prediction_windows import (
    LOOKBACK,
    TARGET_INDEX,
    WEARABLE_INDEX,
    Scaling,
    Windows,
)
from novamind_core.families.biometric.predictor_baselines import RidgeForecaster

log = logging.getLogger(__name__)
ARCHITECTURE = 1  # bumped when a saved aligner no longer fits this code
SD_FLOOR = 0.1  # in cohort SDs: the smallest per-window spread a signal is divided by
MAX_VALIDATION_WINDOWS = 20_000
KERNEL = 5


@dataclass(frozen=True)
class AlignerSettings:
    embedding_dim: int = 32
    hidden: int = 32
    temperature: float = 0.1  # initial; learned
    max_epochs: int = 12
    patience: int = 3
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    max_train_windows: int = 60_000
    seed: int = 0
    threads: int = 1  # torch threads while training; 0: min(2, the cores this process may use)

    def __post_init__(self) -> None:
        if self.embedding_dim < 2 or self.hidden < 2:
            raise ValueError("embedding_dim and hidden must be at least 2")
        if self.max_epochs < 1 or self.batch_size < 8 or self.max_train_windows < 8:
            raise ValueError("max_epochs ≥ 1, batch_size ≥ 8 and max_train_windows ≥ 8 needed")
        if self.threads < 0:
            raise ValueError("threads must be 0 (automatic) or positive")
        if not 0 < self.temperature < 10:
            raise ValueError("the initial temperature must lie in (0, 10)")


def per_window_standardize(values: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(N, L, S) cohort-standardized values (0 where missing) and masks → each signal of
    each window centred on the mean of its observed days and divided by their SD
    (floored at ``SD_FLOOR``); missing days stay 0."""
    count = masks.sum(dim=1, keepdim=True).clamp_min(1.0)
    mean = (values * masks).sum(dim=1, keepdim=True) / count
    centred = (values - mean) * masks
    sd = ((centred**2).sum(dim=1, keepdim=True) / count).sqrt().clamp_min(SD_FLOOR)
    return centred / sd


class Encoder(nn.Module):
    """(N, L, S) values and masks → (N, E) unit-norm embedding."""

    def __init__(self, signals: int, hidden: int, dim: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(2 * signals, hidden, KERNEL, padding=KERNEL // 2),
            nn.GELU(),
            nn.Conv1d(hidden, hidden, KERNEL, padding=KERNEL // 2),
            nn.GELU(),
        )
        self.project = nn.Linear(hidden * LOOKBACK, dim)

    def forward(self, values: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        days = torch.cat([per_window_standardize(values, masks), masks], dim=-1)
        features = self.conv(days.transpose(1, 2)).flatten(1)
        return F.normalize(self.project(features), dim=-1, eps=1e-6)


class AlignerNet(nn.Module):
    def __init__(self, settings: AlignerSettings):
        super().__init__()
        self.wearables = Encoder(len(WEARABLE_INDEX), settings.hidden, settings.embedding_dim)
        self.symptoms = Encoder(len(TARGET_INDEX), settings.hidden, settings.embedding_dim)
        self.log_scale = nn.Parameter(torch.tensor(float(np.log(1.0 / settings.temperature))))

    def scale(self) -> torch.Tensor:
        return self.log_scale.clamp(max=float(np.log(100.0))).exp()

    def forward(self, wear, wear_mask, symp, symp_mask):
        return self.wearables(wear, wear_mask), self.symptoms(symp, symp_mask)


def info_nce(
    wear: torch.Tensor,
    symp: torch.Tensor,
    scale: torch.Tensor,
    patient: torch.Tensor | None = None,
    day: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE over a batch of (wearable, symptom) embeddings, row i's positive
    being column i. With ``patient`` and ``day`` (origin, in days), other windows of the
    same patient that share days with the anchor are left out of its negatives."""
    logits = scale * wear @ symp.T
    if patient is not None and day is not None:
        overlap = (patient[:, None] == patient[None, :]) & (
            (day[:, None] - day[None, :]).abs() < LOOKBACK
        )
        overlap.fill_diagonal_(False)
        logits = logits.masked_fill(overlap, float("-inf"))
    target = torch.arange(len(wear), device=wear.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def _split(windows: Windows, scaling: Scaling, masks_only: bool = False) -> list[torch.Tensor]:
    """[wearable values, wearable masks, symptom values, symptom masks], each (N, L, S)."""
    inputs = windows.inputs(scaling)
    v = inputs.shape[2] // 2
    values, masks = inputs[..., :v], inputs[..., v:]
    if masks_only:
        values = np.zeros_like(values)
    out = []
    for index in (WEARABLE_INDEX, TARGET_INDEX):
        out += [
            torch.from_numpy(values[..., index].copy()),
            torch.from_numpy(masks[..., index].copy()),
        ]
    return out


def _patient_codes(keys: np.ndarray) -> np.ndarray:
    return np.unique(keys.astype(str), return_inverse=True)[1].astype(np.int64)


def _days(windows: Windows) -> np.ndarray:
    return windows.origin.astype("datetime64[D]").astype(np.int64)


def retrieval_batches(windows: Windows, batch: int, seed: int) -> list[np.ndarray]:
    """The windows dealt into ``len // batch`` batches of exactly ``batch`` windows (a
    seeded random remainder is left out), spreading each patient's windows over the
    batches: with the windows ordered by patient (in random order) and origin, the j-th
    goes to batch j mod k. A batch therefore holds windows of as many patients as there
    are, and two windows of one patient in a batch lie about k days apart (no shared days
    once k ≥ 28)."""
    n = len(windows)
    k = n // batch
    if k == 0:
        raise ValidationError(f"{n} window(s): fewer than one batch of {batch}")
    rng = np.random.default_rng(seed)
    kept = np.sort(rng.choice(n, k * batch, replace=False))
    codes = _patient_codes(windows.keys[kept])
    rank = rng.permutation(codes.max() + 1)[codes]
    order = kept[np.lexsort((_days(windows)[kept], rank))]
    slot = (np.arange(len(order)) + int(rng.integers(k))) % k
    return [order[slot == b] for b in rng.permutation(k)]


class _Module(pl.LightningModule):
    def __init__(self, net: AlignerNet, settings: AlignerSettings):
        super().__init__()
        self.net, self.settings = net, settings

    def _loss(self, batch) -> torch.Tensor:
        wear, wear_mask, symp, symp_mask, patient, day = batch
        ew, es = self.net(wear, wear_mask, symp, symp_mask)
        return info_nce(ew, es, self.net.scale(), patient, day)

    def training_step(self, batch, _):
        loss = self._loss(batch)
        self.log("train_loss", loss, batch_size=len(batch[0]))
        return loss

    def validation_step(self, batch, _):
        self.log("val_loss", self._loss(batch), batch_size=len(batch[0]))

    def configure_optimizers(self):
        return torch.optim.AdamW(
            self.parameters(),
            lr=self.settings.learning_rate,
            weight_decay=self.settings.weight_decay,
        )


class _KeepBest(pl.Callback):
    """The weights of the epoch with the lowest validation loss, kept in memory."""

    def __init__(self):
        self.best = float("inf")
        self.state: dict | None = None

    def on_validation_end(self, trainer, module) -> None:
        if trainer.sanity_checking:
            return
        loss = float(trainer.callback_metrics["val_loss"])
        if loss < self.best:
            self.best = loss
            self.state = copy.deepcopy(module.net.state_dict())


def _threads(settings: AlignerSettings) -> None:
    """Two threads at most: the network is small, and more threads than free cores make
    OpenMP spin (on a busy machine two threads can train ten times slower than one)."""
    torch.set_num_threads(settings.threads or min(2, len(os.sched_getaffinity(0))))


def _dataset(windows: Windows, scaling: Scaling) -> TensorDataset:
    return TensorDataset(
        *_split(windows, scaling),
        torch.from_numpy(_patient_codes(windows.keys)),
        torch.from_numpy(_days(windows)),
    )


class Aligner:
    def __init__(self, net: AlignerNet, scaling: Scaling, settings: AlignerSettings):
        self.net, self.scaling, self.settings = net, scaling, settings
        self.training_seconds = 0.0
        self.epochs_run = 0
        self.best_val_loss = float("nan")
        net.eval()

    @torch.no_grad()
    def _embed(self, windows: Windows, which: str, masks_only: bool = False, chunk=8192):
        if self.net.training:
            self.net.eval()
        wear, wear_mask, symp, symp_mask = _split(windows, self.scaling, masks_only)
        encoder, values, masks = (
            (self.net.wearables, wear, wear_mask)
            if which == "wearables"
            else (self.net.symptoms, symp, symp_mask)
        )
        if len(windows) == 0:
            return np.zeros((0, self.settings.embedding_dim), np.float32)
        parts = [
            encoder(values[i : i + chunk], masks[i : i + chunk]).numpy()
            for i in range(0, len(values), chunk)
        ]
        return np.concatenate(parts)

    def embed_wearables(self, windows: Windows) -> np.ndarray:
        """(N, E) unit-norm embeddings of each window's wearable days."""
        return self._embed(windows, "wearables")

    def embed_symptoms(self, windows: Windows) -> np.ndarray:
        """(N, E) unit-norm embeddings of each window's self-report days."""
        return self._embed(windows, "symptoms")

    def retrieval(
        self,
        windows: Windows,
        batch: int = 256,
        seed: int = 0,
        symptoms: Windows | None = None,
        masks_only: bool = False,
    ) -> dict:
        """Within each batch of ``retrieval_batches``: for every wearable window, is the
        symptom window of the same days the most similar one (top-1) or among the five
        most similar (top-5) of the batch's ``batch`` symptom windows; ``reverse_*``: the
        same from symptoms to wearables. Chance is 1/batch and 5/batch.

        ``symptoms``: take the symptom side from these windows instead (row for row; a
        control pairing each wearable window with another window's symptoms).
        ``masks_only``: every value set to its window mean, leaving only the masks (how
        much the shared missing days alone explain)."""
        symptoms = windows if symptoms is None else symptoms
        if len(symptoms) != len(windows):
            raise ValueError("symptoms must hold one window per window")
        ew = self._embed(windows, "wearables", masks_only)
        es = self._embed(symptoms, "symptoms", masks_only)
        hits = {"top1": 0, "top5": 0, "reverse_top1": 0, "reverse_top5": 0}
        batches = retrieval_batches(windows, batch, seed)
        patients = []
        for rows in batches:
            similarity = ew[rows] @ es[rows].T
            true = np.diag(similarity)
            forward = (similarity > true[:, None]).sum(axis=1)  # rank of the true symptoms
            reverse = (similarity > true[None, :]).sum(axis=0)
            hits["top1"] += int((forward < 1).sum())
            hits["top5"] += int((forward < 5).sum())
            hits["reverse_top1"] += int((reverse < 1).sum())
            hits["reverse_top5"] += int((reverse < 5).sum())
            patients.append(len(np.unique(windows.keys[rows].astype(str))))
        n = len(batches) * batch
        return {
            **{name: count / n for name, count in hits.items()},
            "chance_top1": 1 / batch,
            "chance_top5": min(5, batch) / batch,
            "batches": len(batches),
            "windows": n,
            "patients_per_batch": float(np.mean(patients)),
        }

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(self.net.state_dict(), directory / "aligner.pt")
        meta = {
            "architecture": ARCHITECTURE,
            "settings": asdict(self.settings),
            "scaling": self.scaling.to_dict(),
            "training_seconds": self.training_seconds,
            "epochs_run": self.epochs_run,
            "best_val_loss": self.best_val_loss,
        }
        (directory / "aligner.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory: Path) -> Aligner:
        directory = Path(directory)
        meta = json.loads((directory / "aligner.json").read_text())
        if meta.get("architecture") != ARCHITECTURE:
            raise ValueError(
                f"saved aligner is architecture {meta.get('architecture')}, this code reads "
                f"{ARCHITECTURE}: retrain it"
            )
        settings = AlignerSettings(**meta["settings"])
        net = AlignerNet(settings)
        net.load_state_dict(torch.load(directory / "aligner.pt", weights_only=True))
        out = cls(net, Scaling.from_dict(meta["scaling"]), settings)
        out.training_seconds = meta["training_seconds"]
        out.epochs_run = meta["epochs_run"]
        out.best_val_loss = meta["best_val_loss"]
        return out


def fit(
    train: Windows, validation: Windows, scaling: Scaling, settings: AlignerSettings
) -> Aligner:
    """Train both encoders on (a seeded subsample of) the training windows with the
    symmetric InfoNCE loss; early stopping on the validation windows' loss (batches dealt
    as in ``retrieval_batches``), the best epoch's weights kept."""
    _threads(settings)
    pl.seed_everything(settings.seed, workers=True, verbose=False)
    train = train.sample(settings.max_train_windows, settings.seed)
    if len(train) < settings.batch_size:
        raise ValidationError(
            f"{len(train)} training window(s): fewer than one batch of {settings.batch_size}"
        )
    validation = validation.sample(MAX_VALIDATION_WINDOWS, settings.seed + 1)
    val_batch = min(settings.batch_size, len(validation))
    if val_batch < 2:
        raise ValidationError("at least two validation windows are needed")
    order = np.concatenate(retrieval_batches(validation, val_batch, settings.seed))
    net = AlignerNet(settings)
    module = _Module(net, settings)
    train_loader = DataLoader(
        _dataset(train, scaling),
        batch_size=settings.batch_size,
        shuffle=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(settings.seed),
    )
    val_loader = DataLoader(_dataset(validation.subset(order), scaling), batch_size=val_batch)
    keep = _KeepBest()
    trainer = pl.Trainer(
        max_epochs=settings.max_epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        deterministic=True,
        num_sanity_val_steps=0,
        callbacks=[pl.callbacks.EarlyStopping("val_loss", patience=settings.patience), keep],
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, train_loader, val_loader)
    if keep.state is not None:
        net.load_state_dict(keep.state)
    out = Aligner(net, scaling, settings)
    out.training_seconds = round(time.perf_counter() - started, 2)
    out.epochs_run = int(trainer.current_epoch)
    out.best_val_loss = keep.best
    log.info(
        "aligner: %d epochs, %.1f s, best validation InfoNCE %.4f (chance %.4f)",
        out.epochs_run,
        out.training_seconds,
        keep.best,
        float(np.log(val_batch)),
    )
    return out


class AlignedRidge(RidgeForecaster):
    """The ridge baseline with both aligned embeddings appended to its design (each
    multiplied by √E, so a coordinate is on the unit scale of the other inputs and the
    ridge penalty treats them alike)."""

    def __init__(self, scaling: Scaling, aligner: Aligner):
        super().__init__(scaling)
        self.aligner = aligner

    def _design(self, windows: Windows) -> np.ndarray:
        base = super()._design(windows)  # [..., intercept]: the intercept stays last
        factor = np.sqrt(self.aligner.settings.embedding_dim)
        embedded = np.concatenate(
            [self.aligner.embed_wearables(windows), self.aligner.embed_symptoms(windows)], axis=1
        )
        return np.concatenate([base[:, :-1], factor * embedded, base[:, -1:]], axis=1)
