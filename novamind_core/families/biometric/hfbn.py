"""The HFBN — hierarchical feature-based network — of the design document, as a symptom
predictor: 28 days of wearable and self-report data, with the heart-rate and HRV
readings at hourly resolution, → the 10th, 50th and 90th percentile of each symptom score
(phq9, gad7, mood) on each of the next 7 days.

Input signature of the Keras model (``input_arrays`` builds it; both float32):

* ``"daily"`` (None, 28, 14): ``Windows.inputs(scaling)`` — the 7 daily signals,
  standardized (0 where missing), then their 7 presence masks (1 = the day has a record).
* ``"intraday"`` (None, 28, 24, 4): per input day and UTC hour, heart rate and HRV
  standardized with the daily signals' scaling (0 where missing), then their 2 masks.

Output (None, 7, 3, 3): [horizon 1…7, symptom phq9/gad7/mood, quantile 0.1/0.5/0.9] in
the scores' own units, sorted along the quantile axis (lower ≤ median ≤ upper).

Architecture:

1. Within-day level: every day's 24 hourly bins — values × masks, the masks, and the
   hour of day (sine, cosine) as channels — go through two convolutions along the hours
   (Conv2D with 1×3 kernels over (day, hour): a Conv1D per day with shared weights, no
   mixing of days; the second strides over pairs of hours), then a mean over the
   positions near an hour with a reading (masked pooling) → a day embedding of
   ``conv_filters``. A day without any reading gets a zero embedding and the flag 0;
   the share of its hours with a reading is a feature too.
2. Day level: the day embedding, the day's daily values × masks and masks (the
   self-reports carry the symptom trend) and the flag → a linear projection to
   ``model_dim`` plus a sinusoidal encoding of the day's position, then ``blocks``
   Transformer encoder blocks (multi-head self-attention and a feed-forward layer,
   each with a residual connection, dropout and layer norm). The attention mask lets
   no day attend to a day without any record (irregular sampling is masked, never
   imputed); a day with no record still reads the days that have one.
3. Head: the origin day's token (the last input day, whether it has a record or not)
   and an attention pooling over the days with a record → a dense layer → 63 values,
   standardized quantiles, sorted and converted back to the scores' units.

Training: pinball loss over the three quantiles, on standardized targets
(``scaling.target_scale()``), counted only where a target day is observed and averaged
per symptom before the symptoms are averaged (mood is reported daily, the questionnaires
weekly: a plain mean over observed days is mostly mood). Adam with a cosine-decaying
rate, early stopping on the validation loss with the best weights restored, on seeded
subsamples of at most ``max_train_windows`` training and ``max_validation_windows``
validation windows. Batches are gathered on the fly from the hourly grid (a
``keras.utils.PyDataset``): the intraday tensors of all windows are never held at once.

Cost: about 1.1 ms of CPU per window and epoch (the convolutions over the hours and
the attention are about half each; XLA ``jit_compile`` is slower on CPU). The defaults
(16,000 windows, at most 8 epochs) fit in about 2½–3 minutes on 2 cores whatever the
cohort's size: 164 s for 1,000 patients × 365 days (237,000 training windows), of
which 2 s build the hourly grid. TensorFlow itself takes ~600 MB of memory.

The model is built from Keras layers and ``keras.ops`` only, with no custom class and
nothing registered with Keras: the ``.keras`` file loads in any process with
``keras.saving.load_model`` (and through MLflow) without importing this package. The
loss is compiled into ``core`` (the standardized outputs, sharing every layer with the
served model), which is never saved. (mlflow 3.17's TensorFlow flavour cloudpickles
*every* object registered with ``keras.saving.register_keras_serializable`` beside the
model, then refuses to load it unless ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` is set; a
model without custom objects avoids both.)
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from novamind_core.domain.errors import ValidationError
from novamind_core.families.biometric.intraday import CHANNELS, HOURS, Intraday
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
MODEL_FILE = "hfbn.keras"
CONFIG_FILE = "hfbn.json"
INTRADAY_INDEX = np.array([SIGNALS.index(c) for c in CHANNELS])
PREDICT_BATCH = 1024


@dataclass(frozen=True)
class HfbnSettings:
    conv_filters: int = 16
    model_dim: int = 32
    heads: int = 2
    blocks: int = 1
    dropout: float = 0.1
    max_epochs: int = 8
    patience: int = 2
    batch_size: int = 256
    learning_rate: float = 2e-3
    max_train_windows: int = 16_000
    max_validation_windows: int = 4_000
    seed: int = 0


def _configure(seed: int) -> None:
    """Threads (2 intra-op, 1 inter-op) before TensorFlow's first op, and the seeds."""
    import keras
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # the runtime is already up: its threads are fixed
        pass
    keras.utils.set_random_seed(seed)


def intraday_inputs(readings: np.ndarray, scaling: Scaling) -> np.ndarray:
    """(N, L, HOURS, 2) hourly means, NaN = none → (N, L, HOURS, 4) float32: standardized
    values (0 where missing), then masks."""
    present = ~np.isnan(readings)
    mean, sd = scaling.mean[INTRADAY_INDEX], scaling.sd[INTRADAY_INDEX]
    values = np.where(present, (readings - mean) / sd, 0.0)
    return np.concatenate([values, present], axis=3).astype(np.float32)


def input_arrays(windows: Windows, scaling: Scaling, intraday: Intraday) -> dict[str, np.ndarray]:
    """What the Keras model takes for these windows (all of them at once: for a few
    windows, e.g. the MLflow input example; ``HfbnPredictor.predict`` batches)."""
    return {
        "daily": windows.inputs(scaling),
        "intraday": intraday_inputs(intraday.gather(windows), scaling),
    }


def _standardized_targets(windows: Windows, scaling: Scaling) -> np.ndarray:
    mean, sd = scaling.target_scale()
    return ((windows.y - mean) / sd).astype(np.float32)


def _batches(windows, scaling, intraday, batch_size, targets=False, shuffle_seed=None):
    import keras

    class Batches(keras.utils.PyDataset):
        """Model inputs (and standardized targets) a batch at a time."""

        def __init__(self):
            super().__init__()
            self.rows = intraday.rows(windows.keys)
            self.days = windows.days()
            self.y = _standardized_targets(windows, scaling)[..., None] if targets else None
            self.order = np.arange(len(windows))
            self.rng = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
            if self.rng is not None:
                self.rng.shuffle(self.order)

        def __len__(self):
            return math.ceil(len(windows) / batch_size)

        def __getitem__(self, index):
            take = np.sort(self.order[index * batch_size : (index + 1) * batch_size])
            x = {
                "daily": windows.subset(take).inputs(scaling),
                "intraday": intraday_inputs(
                    intraday.gather_days(self.rows[take], self.days[take]), scaling
                ),
            }
            return (x, self.y[take]) if targets else x

        def on_epoch_end(self):
            if self.rng is not None:
                self.rng.shuffle(self.order)

    return Batches()


def pinball_loss(y_true, y_pred):
    """Pinball loss over the quantiles and the observed target days only, averaged per
    symptom and then over the symptoms (daily mood reports must not drown the weekly
    questionnaires). ``y_true`` (B, H, S, 1) with NaN = not observed; ``y_pred``
    (B, H, S, Q)."""
    from keras import ops

    observed = ops.logical_not(ops.isnan(y_true))
    target = ops.where(observed, y_true, 0.0)  # no NaN reaches a gradient
    error = target - y_pred
    q = ops.convert_to_tensor(np.asarray(QUANTILES, np.float32))
    loss = ops.maximum(q * error, (q - 1.0) * error)
    weight = ops.cast(observed, y_pred.dtype)
    total = ops.sum(loss * weight, axis=(0, 1, 3))  # (S,)
    count = ops.sum(weight, axis=(0, 1, 3)) * len(QUANTILES)
    return ops.mean(total / ops.maximum(count, 1.0))


def _positions(length: int, dim: int) -> np.ndarray:
    """(length, dim) sinusoidal encoding of the days' positions (last = the origin)."""
    position = np.arange(length)[:, None]
    rate = np.exp(-math.log(10_000.0) * (np.arange(0, dim, 2) / dim))
    out = np.zeros((length, dim), np.float32)
    out[:, 0::2] = np.sin(position * rate)
    out[:, 1::2] = np.cos(position * rate)[:, : dim // 2]
    return out


def build(settings: HfbnSettings, scaling: Scaling):
    """(served, core): ``core`` gives standardized quantiles (B, H, S, Q) for training;
    ``served`` sorts them along the quantile axis and converts them to score units."""
    import keras
    from keras import layers, ops

    v = len(SIGNALS)
    daily = keras.Input((LOOKBACK, 2 * v), name="daily")
    intra = keras.Input((LOOKBACK, HOURS, 2 * len(CHANNELS)), name="intraday")

    # within-day level
    hour_mask = intra[..., len(CHANNELS) :]
    hour_values = intra[..., : len(CHANNELS)] * hour_mask  # masked in the graph, not trusted
    any_reading = ops.max(hour_mask, axis=-1, keepdims=True)  # (B, L, 24, 1)
    hour = 2 * np.pi * np.arange(HOURS) / HOURS
    clock = np.stack([np.sin(hour), np.cos(hour)], axis=1).astype(np.float32)  # (24, 2)
    clock = ops.zeros_like(any_reading) + clock  # (B, L, 24, 2)
    h = ops.concatenate([hour_values, hour_mask, clock], axis=-1)
    h = layers.Conv2D(settings.conv_filters, (1, 3), padding="same", activation="relu")(h)
    # the second convolution strides over pairs of hours: output j reads hours 2j…2j+2,
    # as does the pooled mask (half the cost; readings are ~6 a day)
    h = layers.Conv2D(
        settings.conv_filters, (1, 3), strides=(1, 2), padding="same", activation="relu"
    )(h)
    near = layers.MaxPooling2D((1, 3), strides=(1, 2), padding="same")(any_reading)
    day_embedding = ops.sum(h * near, axis=2) / ops.maximum(ops.sum(near, axis=2), 1.0)
    count = ops.sum(any_reading, axis=2)  # (B, L, 1) hours with a reading
    has_reading = ops.minimum(count, 1.0)

    # day level
    day_mask = daily[..., v:]
    day_values = daily[..., :v] * day_mask
    present = ops.maximum(has_reading, ops.max(day_mask, axis=-1, keepdims=True))  # (B, L, 1)
    tokens = ops.concatenate(
        [day_embedding, day_values, day_mask, has_reading, count / HOURS], axis=-1
    )
    x = layers.Dense(settings.model_dim)(tokens) + _positions(LOOKBACK, settings.model_dim)
    attend = ops.greater(present * ops.transpose(present, (0, 2, 1)), 0.5)  # (B, L, L)
    for _ in range(settings.blocks):
        a = layers.MultiHeadAttention(
            settings.heads,
            settings.model_dim // settings.heads,
            dropout=settings.dropout,
        )(x, x, attention_mask=attend)
        x = layers.LayerNormalization()(x + layers.Dropout(settings.dropout)(a))
        f = layers.Dense(2 * settings.model_dim, activation="gelu")(x)
        f = layers.Dense(settings.model_dim)(f)
        x = layers.LayerNormalization()(x + layers.Dropout(settings.dropout)(f))

    # head
    score = ops.where(ops.greater(present, 0.5), layers.Dense(1)(x), -1e9)
    weight = ops.softmax(score, axis=1) * present  # zero everywhere if no day has a record
    pooled = ops.sum(weight * x, axis=1)
    r = ops.concatenate([x[:, -1, :], pooled], axis=-1)
    r = layers.Dense(2 * settings.model_dim, activation="gelu")(r)
    r = layers.Dropout(settings.dropout)(r)
    q = len(QUANTILES)
    out = layers.Dense(HORIZON * len(TARGETS) * q)(r)
    out = layers.Reshape((HORIZON, len(TARGETS), q), name="standardized")(out)
    core = keras.Model({"daily": daily, "intraday": intra}, out, name="hfbn_core")

    # constants in their full (S, Q) shape: Keras 3.15's TensorFlow ``ops.add`` takes a
    # constant that squeezes to a vector matching the last axis for a bias along that
    # axis, so adding a (S, 1) mean would add it along the quantiles instead
    mean, sd = (np.repeat(a[:, None], q, axis=1) for a in scaling.target_scale())
    served_out = ops.sort(out, axis=-1) * sd + mean
    served = keras.Model({"daily": daily, "intraday": intra}, served_out, name="hfbn")
    return served, core


class HfbnPredictor:
    def __init__(
        self,
        model,
        scaling: Scaling,
        settings: HfbnSettings,
        training_seconds: float = 0.0,
        epochs_run: int = 0,
    ):
        self.model = model  # keras.Model, see the module docstring for its signature
        self.scaling = scaling
        self.settings = settings
        self.training_seconds = training_seconds
        self.epochs_run = epochs_run

    def predict(self, windows: Windows, intraday: Intraday) -> Forecast:
        if len(windows) == 0:
            empty = np.zeros((0, HORIZON, len(TARGETS)), np.float32)
            return Forecast(empty, empty.copy(), empty.copy())
        batches = _batches(windows, self.scaling, intraday, PREDICT_BATCH)
        out = np.asarray(self.model.predict(batches, verbose=0), np.float32)
        out = np.sort(out, axis=-1)  # already sorted in the graph; kept explicit
        return Forecast(out[..., 1], out[..., 0], out[..., 2])

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save(directory / MODEL_FILE)
        config = {
            "scaling": self.scaling.to_dict(),
            "settings": asdict(self.settings),
            "quantiles": list(QUANTILES),
            "training_seconds": self.training_seconds,
            "epochs_run": self.epochs_run,
        }
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2))

    @classmethod
    def load(cls, directory: Path) -> HfbnPredictor:
        import keras

        directory = Path(directory)
        config = json.loads((directory / CONFIG_FILE).read_text())
        model = keras.saving.load_model(directory / MODEL_FILE)
        return cls(
            model,
            Scaling.from_dict(config["scaling"]),
            HfbnSettings(**config["settings"]),
            float(config["training_seconds"]),
            int(config["epochs_run"]),
        )


def fit(
    train: Windows,
    validation: Windows,
    scaling: Scaling,
    intraday: Intraday,
    settings: HfbnSettings | None = None,
) -> HfbnPredictor:
    """The HFBN fitted on (a seeded subsample of) the training windows, early-stopped on
    (a subsample of) the validation windows."""
    settings = settings or HfbnSettings()
    if len(train) == 0 or len(validation) == 0:
        raise ValidationError("the HFBN needs training and validation windows")
    if settings.model_dim % settings.heads:
        raise ValidationError("model_dim must be a multiple of heads")
    _configure(settings.seed)
    import keras

    started = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    train = train.sample(settings.max_train_windows, rng)
    validation = validation.sample(settings.max_validation_windows, rng)
    served, core = build(settings, scaling)
    steps = math.ceil(len(train) / settings.batch_size) * settings.max_epochs
    rate = keras.optimizers.schedules.CosineDecay(settings.learning_rate, steps, alpha=0.05)
    core.compile(optimizer=keras.optimizers.Adam(rate, clipnorm=1.0), loss=pinball_loss)
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=settings.patience, restore_best_weights=True
    )
    history = core.fit(
        _batches(train, scaling, intraday, settings.batch_size, True, settings.seed),
        validation_data=_batches(validation, scaling, intraday, 1024, True),
        epochs=settings.max_epochs,
        callbacks=[stop],
        verbose=0,
    )
    seconds = time.perf_counter() - started
    epochs = len(history.history["loss"])
    log.info(
        "HFBN: %d epochs on %d windows in %.1f s, best validation pinball %.4f",
        epochs,
        len(train),
        seconds,
        min(history.history["val_loss"]),
    )
    return HfbnPredictor(served, scaling, settings, seconds, epochs)


def log_to_mlflow(
    predictor: HfbnPredictor, artifact_path: str, input_example: dict[str, np.ndarray]
) -> str:
    """Log the Keras model (tensorflow flavour, ``.keras`` file) into the active MLflow run
    under the name ``artifact_path``; the signature is inferred from the input example.
    Returns the model URI (``models:/<model id>`` in mlflow 3)."""
    import keras
    import mlflow
    import mlflow.tensorflow
    import tensorflow as tf

    info = mlflow.tensorflow.log_model(
        predictor.model,
        name=artifact_path,
        input_example=input_example,
        # pinned here: mlflow would otherwise infer them by loading the model in a
        # subprocess (a second TensorFlow start-up)
        pip_requirements=[
            f"tensorflow=={tf.__version__}",
            f"keras=={keras.__version__}",
            f"numpy=={np.__version__}",
        ],
    )
    return info.model_uri
