"""The Temporal Fusion Transformer symptom predictor, on pytorch-forecasting's maintained
implementation (``pytorch_forecasting.TemporalFusionTransformer``): 28 days of wearables
and self-reports → the next 7 days' PHQ-9, GAD-7 and mood as 10th/50th/90th percentiles,
the variables its selection networks weighed, and the input days it attended to.

The windows as a ``TimeSeriesDataSet`` (``_frame`` + ``_dataset``)
--------------------------------------------------------------------
* Each window is its own short series (group id = the window's position), 28 encoder days
  + 7 decoder days, so the TFT trains and is scored on exactly the windows, split and
  targets of the baselines and the other networks.
* Unknown time-varying reals: the standardized value of every signal (0 where missing,
  as ``Windows.inputs``) and its observed mask (``<signal>_observed``). They are 0 on the
  decoder days, which the TFT does not read for unknown variables anyway.
* Known real: ``relative_time_idx`` (added by the dataset: −28/28 … 6/28); in the decoder
  it is the day of the horizon.
* Static reals, per symptom: its last observed standardized score in the window
  (``<symptom>_last``) and the mean of its observed scores (``<symptom>_mean``), both 0
  when the window holds none, and the days since that last score over 28
  (``<symptom>_days_since``, 1 when none). The scores' trend moves slowly (AR 0.92) under
  noisy weekly questionnaires, so a level is most of a forecast; the TFT's static
  selection network weighs these (without any static variable it would be empty).
* The inputs are standardized by ``Scaling`` already, so the dataset's own scalers are
  off (``None`` per variable) and its target normalizers are the identity: nothing in the
  dataset is fitted to data, so a saved model needs no pickled encoders.
* Targets: three, standardized with ``scaling.target_scale()``; forecasts are converted
  back to points. An unobserved target day is never trained on nor scored as observed.
  pytorch-forecasting has a single ``weight`` column for all targets (``MultiLoss`` hands
  the same weight to every target's metric), so a decoder day's weight packs the three
  observed flags as bits (1 = PHQ-9, 2 = GAD-7, 4 = mood) and each target's
  ``ObservedQuantileLoss`` keeps its own bit: the pinball loss of its three quantiles,
  averaged over that symptom's observed days only (0 for a batch without any, never NaN).
  The three symptoms' losses are summed with equal weight, so the weekly questionnaires
  count as much as the near-daily mood. An unobserved target is stored as 0 (the dataset
  refuses NaN) and is multiplied by a zero weight.

Batches (``_Batches``)
----------------------
``TimeSeriesDataSet.__getitem__`` indexes a pandas frame per window: about 0.5–0.8 ms of
CPU per window here, as much as the network's own training step. Since every window has
the same fixed lengths, ``_Batches`` builds the same batch dictionaries ``(x, (targets,
weight))`` by array slicing from the same columns, and a unit test holds them equal,
tensor for tensor and dtype for dtype, to the dataset's own ``to_dataloader`` batches. The
``TimeSeriesDataSet`` itself defines the network (``from_dataset`` on one blank window).

Training and prediction
-----------------------
* A seeded random subsample of at most ``max_train_windows`` training windows (and of at
  most ``max_train_windows / VALIDATION_SHARE`` validation windows). An epoch is at most
  ``EPOCH_BATCHES`` batches (``limit_train_batches``), a fresh shuffle of the subsample
  each epoch; Adam, gradient clipping at ``GRADIENT_CLIP``, learning rate halved after a
  flat epoch, early stopping after ``PATIENCE`` epochs without a lower validation loss and
  the best epoch's weights kept in memory (no checkpoint files); no logger, no progress
  bar, seeded (``lightning.pytorch.seed_everything``) and deterministic.
* ``TORCH_THREADS`` = 1 intra-op thread during fit and prediction (the caller's setting
  restored after). The network's operations are small (hidden size 16) and a second
  thread gains little, while on a CPU shared with other processes (as on a pipeline node)
  OpenMP's per-operation barriers wait for descheduled threads: on 2 shared cores a small
  fit took 111 s with 2 threads against 5.7 s with 1.
* Prediction runs ``PREDICT_BATCH`` windows per batch, ``PREDICT_CHUNK`` windows per
  batch set (bounded memory). A day's three quantile outputs are sorted, so 10th ≤ 50th ≤
  90th percentile even where the network's outputs would cross.
* ``variable_importance``: ``interpret_output`` on the validation windows (summed), the
  encoder, decoder and static variable selection weights each normalized to sum to 1.
* ``attention``: ``interpret_output`` per window: the first forecast day's attention over
  the 28 input days, mean over heads, each row summing to 1.
* ``save`` writes the state dict (``tft.pt``) and a JSON of the settings, scaling,
  architecture version and validation variable importance; ``load`` rebuilds the network
  with ``from_dataset`` and loads the state dict (``weights_only``).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from pytorch_forecasting import TemporalFusionTransformer, TimeSeriesDataSet
from pytorch_forecasting.data.encoders import MultiNormalizer, TorchNormalizer
from pytorch_forecasting.metrics import MultiLoss, QuantileLoss
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler

from novamind_core.families.biometric.prediction_windows import (
    HORIZON,
    LOOKBACK,
    TARGET_INDEX,
    TARGETS,
    Scaling,
    Windows,
)
from novamind_core.families.biometric.predictor_baselines import Forecast
from novamind_core.families.biometric.signals import SIGNALS

log = logging.getLogger(__name__)
for _name in ("lightning.pytorch", "lightning.fabric", "lightning_fabric", "pytorch_lightning"):
    logging.getLogger(_name).setLevel(logging.WARNING)

QUANTILES = (0.1, 0.5, 0.9)
ARCHITECTURE = 1  # bumped when a saved network no longer fits this code
GROUP, TIME, WEIGHT = "window", "day", "observed_targets"
VALUE_COLUMNS = SIGNALS
MASK_COLUMNS = tuple(f"{s}_observed" for s in SIGNALS)
STATIC_COLUMNS = tuple(f"{t}_{kind}" for t in TARGETS for kind in ("last", "mean", "days_since"))
TARGET_COLUMNS = tuple(f"{t}_target" for t in TARGETS)
RELATIVE_TIME = "relative_time_idx"  # the known real the dataset adds
REALS = (*STATIC_COLUMNS, RELATIVE_TIME, *VALUE_COLUMNS, *MASK_COLUMNS)  # the dataset's order
EPOCH_BATCHES = 100  # training batches per epoch at most
PATIENCE = 2  # epochs without a better validation loss before stopping
GRADIENT_CLIP = 0.1
PREDICT_BATCH = 512
PREDICT_CHUNK = 8192  # windows per prediction dataset
VALIDATION_SHARE = 8  # validation windows at most max_train_windows / VALIDATION_SHARE
TORCH_THREADS = 1  # see the module docstring


@dataclass(frozen=True)
class TftSettings:
    hidden_size: int = 16
    attention_heads: int = 2
    dropout: float = 0.1
    max_epochs: int = 8
    batch_size: int = 128
    learning_rate: float = 3e-3
    max_train_windows: int = 40_000  # a seeded random subsample of the training windows
    seed: int = 0

    def __post_init__(self) -> None:
        if self.hidden_size < 4 or self.attention_heads < 1 or self.max_epochs < 1:
            raise ValueError("hidden_size ≥ 4, attention_heads ≥ 1 and max_epochs ≥ 1 are needed")
        if self.batch_size < 8 or self.max_train_windows < self.batch_size:
            raise ValueError("batch_size ≥ 8 and max_train_windows ≥ batch_size are needed")
        if not 0 <= self.dropout < 1 or not self.learning_rate > 0:
            raise ValueError("dropout must lie in [0, 1) and learning_rate be positive")


class ObservedQuantileLoss(QuantileLoss):
    """The pinball loss of one target, on the decoder days where that target was observed:
    bit ``target_index`` of the packed weight column."""

    def __init__(self, target_index: int = 0, quantiles: list[float] | None = None, **kwargs):
        super().__init__(quantiles=list(quantiles or QUANTILES), **kwargs)
        self.target_index = target_index

    def update(self, y_pred: torch.Tensor, target, **kwargs) -> None:
        values, packed = target
        if not isinstance(values, torch.Tensor) or packed is None:
            raise ValueError("ObservedQuantileLoss needs padded targets and the weight column")
        seen = ((packed.long() >> self.target_index) & 1).to(y_pred.dtype)  # (B, T)
        losses = self.loss(y_pred, values).mean(-1)  # (B, T): mean over the quantiles
        self.losses = self.losses + (losses * seen).sum()
        self.lengths = self.lengths + seen.sum().long()

    def compute(self) -> torch.Tensor:
        return self.losses / self.lengths.clamp(min=1)


@contextlib.contextmanager
def _torch_threads():
    """``TORCH_THREADS`` intra-op threads (at most the CPUs this process may use) and
    deterministic algorithms for the duration; the caller's settings restored after."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(max(1, min(TORCH_THREADS, len(os.sched_getaffinity(0)))))
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def _static(windows: Windows, scaling: Scaling) -> np.ndarray:
    """(N, 3S): per symptom the last observed standardized score, the mean of the observed
    ones (0 without any) and the days since the last one over ``LOOKBACK`` (1 without)."""
    mean, sd = scaling.target_scale()
    scores = (windows.x[:, :, TARGET_INDEX] - mean) / sd  # (N, L, S)
    seen = ~np.isnan(scores)
    position = np.where(seen, np.arange(LOOKBACK)[None, :, None], -1).max(axis=1)  # (N, S)
    has = position >= 0
    rows = np.arange(len(windows))[:, None]
    last = np.where(has, scores[rows, np.maximum(position, 0), np.arange(len(TARGETS))], 0.0)
    count = seen.sum(axis=1)
    average = np.where(seen, scores, 0.0).sum(axis=1) / np.maximum(count, 1)  # 0 without
    since = np.where(has, (LOOKBACK - 1 - position) / LOOKBACK, 1.0)
    return np.stack([last, average, since], axis=2).reshape(len(windows), -1).astype(np.float32)


def _columns(windows: Windows, scaling: Scaling) -> dict[str, np.ndarray]:
    """Every column of the windows' series, each (N, LOOKBACK + HORIZON) float32:
    ``LOOKBACK`` encoder days then ``HORIZON`` decoder days."""
    n, v, span = len(windows), len(SIGNALS), LOOKBACK + HORIZON
    inputs = np.zeros((n, span, 2 * v), np.float32)
    inputs[:, :LOOKBACK] = windows.inputs(scaling)
    mean, sd = scaling.target_scale()
    observed = windows.observed  # (N, H, S)
    target = np.zeros((n, span, len(TARGETS)), np.float32)
    target[:, LOOKBACK:] = np.where(observed, (windows.y - mean) / sd, 0.0)
    packed = np.zeros((n, span), np.float32)
    packed[:, LOOKBACK:] = (observed * (1 << np.arange(len(TARGETS)))).sum(axis=2)
    static = _static(windows, scaling)
    out = {name: np.repeat(static[:, [i]], span, axis=1) for i, name in enumerate(STATIC_COLUMNS)}
    out[RELATIVE_TIME] = np.broadcast_to(
        (np.arange(span, dtype=np.float32) - LOOKBACK) / LOOKBACK, (n, span)
    )
    for i, name in enumerate(VALUE_COLUMNS + MASK_COLUMNS):
        out[name] = inputs[:, :, i]
    for i, name in enumerate(TARGET_COLUMNS):
        out[name] = target[:, :, i]
    out[WEIGHT] = packed
    return out


def _frame(windows: Windows, scaling: Scaling) -> pd.DataFrame:
    """The windows in the long format of a ``TimeSeriesDataSet``: one row per (window,
    day); the group id is the window's position."""
    n, span = len(windows), LOOKBACK + HORIZON
    columns = _columns(windows, scaling)
    del columns[RELATIVE_TIME]  # the dataset adds it
    frame = {
        GROUP: np.repeat(np.arange(n, dtype=np.int64), span),
        TIME: np.tile(np.arange(span, dtype=np.int64), n),
    }
    frame.update({name: values.reshape(-1) for name, values in columns.items()})
    return pd.DataFrame(frame)


def _dataset(frame: pd.DataFrame) -> TimeSeriesDataSet:
    """The dataset definition, the reference for ``_Batches``: nothing in it is fitted to
    the data (identity scalers and target normalizers)."""
    return TimeSeriesDataSet(
        frame,
        time_idx=TIME,
        target=list(TARGET_COLUMNS),
        group_ids=[GROUP],
        weight=WEIGHT,
        max_encoder_length=LOOKBACK,
        min_encoder_length=LOOKBACK,
        max_prediction_length=HORIZON,
        min_prediction_length=HORIZON,
        static_reals=list(STATIC_COLUMNS),
        time_varying_unknown_reals=[*VALUE_COLUMNS, *MASK_COLUMNS],
        add_relative_time_idx=True,
        add_target_scales=False,
        add_encoder_length=False,
        target_normalizer=MultiNormalizer(
            [TorchNormalizer(method="identity") for _ in TARGET_COLUMNS]
        ),
        scalers=dict.fromkeys(REALS),
        randomize_length=None,
    )


class _Batches(Dataset):
    """The windows as the TFT's batches, built with array slicing: ``__getitems__`` gives
    for a list of windows the very ``(x, (target, weight))`` that the ``_dataset`` of those
    windows and its ``to_dataloader`` give (a unit test holds them equal), without the
    dataset's per-window pandas indexing (about as slow as the network's training step)."""

    def __init__(self, windows: Windows, scaling: Scaling):
        columns = _columns(windows, scaling)
        self.reals = torch.from_numpy(np.stack([columns[c] for c in REALS], axis=2))
        self.target = torch.from_numpy(np.stack([columns[c] for c in TARGET_COLUMNS], axis=0))
        self.weight = torch.from_numpy(np.ascontiguousarray(columns[WEIGHT][:, LOOKBACK:]))

    def __len__(self) -> int:
        return len(self.reals)

    def __getitem__(self, index: int):
        return self.__getitems__([index])

    def __getitems__(self, indices: list[int]):
        rows = torch.as_tensor(indices, dtype=torch.long)
        n = len(rows)
        reals = self.reals[rows]
        target = self.target[:, rows]  # (S, B, span)
        decoder_target = [t[:, LOOKBACK:] for t in target]
        scale = torch.tensor([0.0, 1.0]).expand(n, 2).contiguous()
        x = {
            "encoder_cat": torch.zeros((n, LOOKBACK, 0), dtype=torch.long),
            "encoder_cont": reals[:, :LOOKBACK],
            "encoder_target": [t[:, :LOOKBACK] for t in target],
            "encoder_lengths": torch.full((n,), LOOKBACK, dtype=torch.long),
            "decoder_cat": torch.zeros((n, HORIZON, 0), dtype=torch.long),
            "decoder_cont": reals[:, LOOKBACK:],
            "decoder_target": decoder_target,
            "decoder_lengths": torch.full((n,), HORIZON, dtype=torch.long),
            "decoder_time_idx": torch.arange(LOOKBACK, LOOKBACK + HORIZON).expand(n, -1),
            "groups": rows[:, None],
            "target_scale": [scale.clone() for _ in TARGETS],
        }
        return x, (decoder_target, self.weight[rows])


def _as_batch(batch):
    return batch


def _loader(batches: _Batches, batch_size: int, generator: torch.Generator | None = None):
    """Shuffled batches with a generator (training), in order without."""
    sampler = RandomSampler(batches, generator=generator) if generator else None
    return DataLoader(
        batches,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=generator is not None and len(batches) > batch_size,
        collate_fn=_as_batch,
        num_workers=0,
    )


def _network(settings: TftSettings) -> TemporalFusionTransformer:
    """The TFT for the dataset definition (built on one blank window: the network depends
    on the variables, not on the data)."""
    dataset = _dataset(_frame(_blank(), Scaling(np.zeros(len(SIGNALS)), np.ones(len(SIGNALS)))))
    if tuple(dataset.reals) != REALS:
        raise RuntimeError(f"the dataset orders its reals {dataset.reals}, expected {REALS}")
    return TemporalFusionTransformer.from_dataset(
        dataset,
        hidden_size=settings.hidden_size,
        attention_head_size=settings.attention_heads,
        dropout=settings.dropout,
        hidden_continuous_size=max(4, settings.hidden_size // 2),
        learning_rate=settings.learning_rate,
        loss=MultiLoss([ObservedQuantileLoss(i, list(QUANTILES)) for i in range(len(TARGETS))]),
        logging_metrics=nn.ModuleList([]),
        log_interval=-1,
        reduce_on_plateau_patience=0,  # halve the learning rate after a flat epoch
        optimizer="adam",
    )


def _blank() -> Windows:
    """One window without any record."""
    return Windows(
        np.array(["blank"], dtype=object),
        np.array(["2000-01-01"], dtype="datetime64[D]"),
        np.full((1, LOOKBACK, len(SIGNALS)), np.nan, np.float32),
        np.full((1, HORIZON, len(TARGETS)), np.nan, np.float32),
    )


class _KeepBest(pl.Callback):
    """Keeps the weights of the epoch with the lowest validation loss, in memory."""

    def __init__(self) -> None:
        self.best = float("inf")
        self.state: dict | None = None

    def on_validation_end(self, trainer, pl_module) -> None:
        loss = trainer.callback_metrics.get("val_loss")
        if loss is not None:
            log.info("TFT epoch %d: validation loss %.4f", trainer.current_epoch, float(loss))
        if loss is not None and float(loss) < self.best:
            self.best = float(loss)
            self.state = copy.deepcopy(pl_module.state_dict())


def _outputs(network: TemporalFusionTransformer, windows: Windows, scaling: Scaling):
    """The network's output per batch of ``PREDICT_BATCH`` windows, in window order."""
    network.eval()
    with torch.no_grad(), _torch_threads():
        for start in range(0, len(windows), PREDICT_CHUNK):
            part = windows.subset(np.arange(start, min(start + PREDICT_CHUNK, len(windows))))
            for x, _ in _loader(_Batches(part, scaling), PREDICT_BATCH):
                yield network(x)


class TftPredictor:
    def __init__(
        self,
        network: TemporalFusionTransformer,
        scaling: Scaling,
        settings: TftSettings,
        importance: dict[str, dict[str, float]],
    ):
        self.network, self.scaling, self.settings = network, scaling, settings
        self.importance = importance
        self.training_seconds = 0.0
        self.epochs_run = 0
        self.best_val_loss = float("nan")
        network.eval()

    def predict(self, windows: Windows) -> Forecast:
        """Median and 10th/90th percentiles (N, H, S) in points."""
        parts = [
            torch.stack(list(out["prediction"]), dim=2).numpy()
            for out in _outputs(self.network, windows, self.scaling)
        ]  # each (B, H, S, 3) standardized
        if parts:
            q = np.sort(np.concatenate(parts), axis=-1)  # quantiles never cross
        else:
            q = np.zeros((0, HORIZON, len(TARGETS), len(QUANTILES)), np.float32)
        mean, sd = self.scaling.target_scale()
        values = (q * sd[None, None, :, None] + mean[None, None, :, None]).astype(np.float32)
        return Forecast(values[..., 1], values[..., 0], values[..., 2])

    def attention(self, windows: Windows) -> np.ndarray:
        """(N, LOOKBACK): the first forecast day's attention over the input days (mean
        over heads), each row summing to 1."""
        parts = [
            self.network.interpret_output(out, reduction="none")["attention"].double().numpy()
            for out in _outputs(self.network, windows, self.scaling)
        ]
        if not parts:
            return np.zeros((0, LOOKBACK))
        weights = np.nan_to_num(np.concatenate(parts))[:, :LOOKBACK]
        total = weights.sum(axis=1, keepdims=True)
        return np.where(total > 0, weights / np.where(total > 0, total, 1.0), 1.0 / LOOKBACK)

    def variable_importance(self) -> dict[str, dict[str, float]]:
        """Shares of the variable selection weights on the validation windows:
        ``{"encoder": …, "decoder": …, "static": …}``, each summing to 1."""
        return {part: dict(shares) for part, shares in self.importance.items()}

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(self.network.state_dict(), directory / "tft.pt")
        meta = {
            "architecture": ARCHITECTURE,
            "settings": asdict(self.settings),
            "scaling": self.scaling.to_dict(),
            "variable_importance": self.importance,
            "training_seconds": self.training_seconds,
            "epochs_run": self.epochs_run,
            "best_val_loss": self.best_val_loss,
        }
        (directory / "tft.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory: Path) -> TftPredictor:
        directory = Path(directory)
        meta = json.loads((directory / "tft.json").read_text())
        if meta.get("architecture") != ARCHITECTURE:
            raise ValueError(
                f"saved TFT is architecture {meta.get('architecture')}, this code reads "
                f"{ARCHITECTURE}: retrain it"
            )
        settings = TftSettings(**meta["settings"])
        network = _quiet(_network, settings)
        network.load_state_dict(torch.load(directory / "tft.pt", weights_only=True))
        out = cls(
            network, Scaling.from_dict(meta["scaling"]), settings, meta["variable_importance"]
        )
        out.training_seconds = meta["training_seconds"]
        out.epochs_run = meta["epochs_run"]
        out.best_val_loss = meta["best_val_loss"]
        return out


KNOWN_WARNINGS = (
    # pytorch-forecasting's models hand their loss and metrics to save_hyperparameters
    r"Attribute '(loss|logging_metrics)' is an instance of `nn.Module`",
    # Lightning 2.6.6 on torch 2.13
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
)


def _quiet(function, *args, **kwargs):
    """Calls into pytorch-forecasting / Lightning without the advisory warnings they are
    known to raise in this setup (``KNOWN_WARNINGS``); any other warning passes."""
    with warnings.catch_warnings():
        for message in KNOWN_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        return function(*args, **kwargs)


def _importance(network: TemporalFusionTransformer, windows: Windows, scaling: Scaling) -> dict:
    """Variable selection weights of the windows, summed over windows (``interpret_output``
    with ``reduction="sum"``), each part normalized to sum to 1."""
    keys = ("encoder", "decoder", "static")
    totals = {key: 0.0 for key in keys}
    for out in _outputs(network, windows, scaling):
        parts = network.interpret_output(out, reduction="sum")
        for key in keys:
            totals[key] = totals[key] + parts[f"{key}_variables"].double().numpy()
    names = {
        "encoder": network.encoder_variables,
        "decoder": network.decoder_variables,
        "static": network.static_variables,
    }
    out = {}
    for key in keys:
        values = np.asarray(totals[key], np.float64)
        shares = values / values.sum()
        out[key] = {name: float(v) for name, v in zip(names[key], shares, strict=True)}
    return out


def fit(
    train: Windows, validation: Windows, scaling: Scaling, settings: TftSettings
) -> TftPredictor:
    """Train on (a seeded subsample of) the training windows; early stopping on the
    validation windows' loss, the best epoch's weights kept."""
    if len(train) == 0 or len(validation) == 0:
        raise ValueError("the TFT needs training and validation windows")
    started = time.perf_counter()
    with _torch_threads():
        pl.seed_everything(settings.seed, workers=True, verbose=False)
        train = train.sample(settings.max_train_windows, settings.seed)
        validation = validation.sample(
            max(settings.max_train_windows // VALIDATION_SHARE, 1), settings.seed + 1
        )
        network = _quiet(_network, settings)
        train_loader = _loader(
            _Batches(train, scaling),
            settings.batch_size,
            generator=torch.Generator().manual_seed(settings.seed),
        )
        validation_loader = _loader(_Batches(validation, scaling), PREDICT_BATCH)
        keep = _KeepBest()
        trainer = _quiet(
            pl.Trainer,
            max_epochs=settings.max_epochs,
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            limit_train_batches=EPOCH_BATCHES,
            gradient_clip_val=GRADIENT_CLIP,
            deterministic=True,
            callbacks=[pl.callbacks.EarlyStopping("val_loss", patience=PATIENCE), keep],
        )
        _quiet(trainer.fit, network, train_loader, validation_loader)
        epochs = int(trainer.current_epoch)
        network.trainer = None  # let the trainer and its loaders go
        if keep.state is not None:
            network.load_state_dict(keep.state)
        importance = _importance(network, validation, scaling)
    out = TftPredictor(network, scaling, settings, importance)
    out.training_seconds = round(time.perf_counter() - started, 2)
    out.epochs_run = epochs
    out.best_val_loss = keep.best
    log.info(
        "TFT: %d epochs, %.1f s, best validation loss %.4f",
        out.epochs_run,
        out.training_seconds,
        keep.best,
    )
    return out
