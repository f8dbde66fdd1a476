"""Encoder-decoder Transformer with quantile outputs, trained with teacher forcing.

The encoder reads ``context_days`` of daily features. The decoder emits one step per
horizon day; its input at step h is the target value of the day before (the true value
while training: teacher forcing; its own median forecast at inference: autoregressive
decoding) plus that day's calendar features. Three quantiles (0.1, 0.5, 0.9) come out
per step, built so that they cannot cross: q0.5 = a, q0.1 = a − softplus(b),
q0.9 = a + softplus(c). Training minimizes the pinball loss on observed target days.
"""

from __future__ import annotations

import logging
import math
import tempfile
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

QUANTILES = (0.1, 0.5, 0.9)
for _name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
    logging.getLogger(_name).setLevel(logging.WARNING)


@dataclass(frozen=True)
class TransformerConfig:
    n_features: int
    context_days: int
    horizon: int
    d_model: int = 64
    n_heads: int = 8
    encoder_layers: int = 2  # the design document's reference configuration is 6/6
    decoder_layers: int = 2
    dropout: float = 0.1
    learning_rate: float = 2e-3


def _dow_features(dow: torch.Tensor) -> torch.Tensor:
    angle = 2 * math.pi * dow.float() / 7
    return torch.stack([torch.sin(angle), torch.cos(angle)], dim=-1)


class QuantileTransformer(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.encoder_in = nn.Linear(config.n_features, d)
        self.decoder_in = nn.Linear(3, d)
        self.encoder_pos = nn.Parameter(torch.randn(config.context_days, d) * 0.02)
        self.decoder_pos = nn.Parameter(torch.randn(config.horizon, d) * 0.02)
        self.core = nn.Transformer(
            d_model=d,
            nhead=config.n_heads,
            num_encoder_layers=config.encoder_layers,
            num_decoder_layers=config.decoder_layers,
            dim_feedforward=4 * d,
            dropout=config.dropout,
            batch_first=True,
        )
        self.head = nn.Linear(d, 3)
        mask = torch.triu(torch.full((config.horizon, config.horizon), float("-inf")), 1)
        self.register_buffer("causal_mask", mask, persistent=False)

    def encode(self, context):
        """Encoder memory of the context days (computed once per forecast)."""
        return self.core.encoder(self.encoder_in(context) + self.encoder_pos)

    def decode_from(self, memory, previous, future_dow):
        """Decoder steps over the memory; previous (B,S) → quantiles (B,S,3)."""
        steps = previous.shape[1]
        calendar = _dow_features(future_dow).to(previous.dtype)
        tgt_in = torch.cat([previous.unsqueeze(-1), calendar], dim=-1)
        tgt = self.decoder_in(tgt_in) + self.decoder_pos[:steps]
        out = self.core.decoder(tgt, memory, tgt_mask=self.causal_mask[:steps, :steps])
        return self._quantiles(self.head(out))

    @staticmethod
    def _quantiles(raw):
        median = raw[..., 0]
        lower = median - nn.functional.softplus(raw[..., 1])
        upper = median + nn.functional.softplus(raw[..., 2])
        return torch.stack([lower, median, upper], dim=-1)

    def forward(self, context, previous, future_dow):
        """context (B,L,F); previous (B,H) target of the day before each step; → (B,H,3)."""
        return self.decode_from(self.encode(context), previous, future_dow)

    @torch.no_grad()
    def decode(self, context, last_value, future_dow):
        """Autoregressive decoding: each step is fed the previous step's median.

        The decoder is causal, so a step's output depends only on the steps before it:
        each step runs the decoder layers on its one new position, keeping the keys and
        values of the earlier positions (self-attention) and of the encoder memory
        (cross-attention, projected once). Same result as re-running the decoder over the
        whole prefix at every step (``forward`` fed its own medians: tested), with one
        position's work per step instead of all of them."""
        memory = self.encode(context)
        decoder = self.core.decoder
        if any(layer.norm_first for layer in decoder.layers):
            raise NotImplementedError("cached decoding assumes post-norm decoder layers")
        days = self.config.context_days
        crossed = [
            _memory_projection(layer.multihead_attn, memory, days) for layer in decoder.layers
        ]
        cached: list[tuple | None] = [None] * len(decoder.layers)
        calendar = _dow_features(future_dow).to(memory.dtype)
        previous, steps = last_value.to(memory.dtype), []
        for step in range(future_dow.shape[1]):
            tgt_in = torch.cat([previous.unsqueeze(-1), calendar[:, step]], dim=-1)
            x = self.decoder_in(tgt_in) + self.decoder_pos[step]  # (B,d): the new position
            for i, layer in enumerate(decoder.layers):
                attended, cached[i] = _self_attention_step(layer.self_attn, x, cached[i])
                x = layer.norm1(x + attended)
                x = layer.norm2(x + _cross_attention(layer.multihead_attn, x, crossed[i]))
                x = layer.norm3(x + layer.linear2(layer.activation(layer.linear1(x))))
            if decoder.norm is not None:
                x = decoder.norm(x)
            quantiles = self._quantiles(self.head(x))  # (B,3)
            steps.append(quantiles)
            previous = quantiles[:, 1]
        return torch.stack(steps, dim=1)


def _attend(attention: nn.MultiheadAttention, query, keys, values):
    """Attention of one query position per sequence, query (B,d), over ``keys``/``values``
    (B,S,heads,d/heads), merged and projected out. Written out with broadcasting: for a
    single query position the fused and batched-matmul CPU kernels cost ~70-100 µs a call
    on tiny heads, this a few. Shapes come from the layer's sizes (Python numbers), so
    an exported graph reshapes by constants instead of computing shapes at run time."""
    scores = (_heads(attention, query, 1) * keys).sum(-1) * attention.head_dim**-0.5
    weights = torch.softmax(scores, dim=1).unsqueeze(-1)  # (B,S,heads,1)
    out = (weights * values).sum(1)  # (B,heads,d/heads)
    return attention.out_proj(out.reshape(-1, attention.embed_dim))


def _heads(attention: nn.MultiheadAttention, x, length: int):
    """(B,S,d) or (B,d) with S = ``length`` → (B,S,heads,d/heads)."""
    return x.view(-1, length, attention.num_heads, attention.head_dim)


def _memory_projection(attention: nn.MultiheadAttention, memory, length: int):
    """Keys and values of the encoder memory (``length`` days) for one cross-attention
    layer, split into heads."""
    _, w_k, w_v = attention.in_proj_weight.chunk(3)
    _, b_k, b_v = attention.in_proj_bias.chunk(3)
    return (
        _heads(attention, nn.functional.linear(memory, w_k, b_k), length),
        _heads(attention, nn.functional.linear(memory, w_v, b_v), length),
    )


def _cross_attention(attention: nn.MultiheadAttention, x, memory_projection):
    w_q = attention.in_proj_weight.chunk(3)[0]
    b_q = attention.in_proj_bias.chunk(3)[0]
    return _attend(attention, nn.functional.linear(x, w_q, b_q), *memory_projection)


def _self_attention_step(attention: nn.MultiheadAttention, x, cache):
    """Self-attention of one new position (B,d) over itself and the cached earlier ones
    (keys and values split into heads)."""
    projected = nn.functional.linear(x, attention.in_proj_weight, attention.in_proj_bias)
    query, key, value = projected.chunk(3, dim=-1)
    key, value = _heads(attention, key, 1), _heads(attention, value, 1)
    if cache is not None:
        key, value = torch.cat([cache[0], key], dim=1), torch.cat([cache[1], value], dim=1)
    return _attend(attention, query, key, value), (key, value)


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    losses = []
    for i, q in enumerate(QUANTILES):
        diff = target - pred[..., i]
        losses.append(torch.maximum(q * diff, (q - 1) * diff))
    total = torch.stack(losses, dim=-1).mean(-1) * weight
    return total.sum() / weight.sum().clamp(min=1.0)


class ForecastModule(pl.LightningModule):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.save_hyperparameters(asdict(config))
        self.model = QuantileTransformer(config)
        self.config = config

    def training_step(self, batch, _):
        context, last, target, weight, dow = batch
        previous = torch.cat([last.unsqueeze(1), target[:, :-1]], dim=1)  # teacher forcing
        loss = pinball_loss(self.model(context, previous, dow), target, weight)
        self.log("train_loss", loss, prog_bar=False, on_epoch=True, on_step=False)
        return loss

    def validation_step(self, batch, _):
        context, last, target, weight, dow = batch
        loss = pinball_loss(self.model.decode(context, last, dow), target, weight)
        self.log("val_loss", loss, prog_bar=False, on_epoch=True, on_step=False)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.config.learning_rate)


def _tensors(context, last, target, weight, dow) -> TensorDataset:
    return TensorDataset(
        torch.as_tensor(context, dtype=torch.float32),
        torch.as_tensor(last, dtype=torch.float32),
        torch.as_tensor(target, dtype=torch.float32),
        torch.as_tensor(weight, dtype=torch.float32),
        torch.as_tensor(dow, dtype=torch.long),
    )


def train(
    config: TransformerConfig,
    train_data: tuple[np.ndarray, ...],
    val_data: tuple[np.ndarray, ...],
    epochs: int,
    seed: int,
    batch_size: int = 256,
    patience: int = 3,
) -> tuple[QuantileTransformer, dict[str, float]]:
    """Fit with early stopping on validation pinball loss; return the best weights."""
    pl.seed_everything(seed, workers=True, verbose=False)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    module = ForecastModule(config)
    train_loader = DataLoader(_tensors(*train_data), batch_size=batch_size, shuffle=True)
    val_loader = DataLoader(_tensors(*val_data), batch_size=1024)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = pl.callbacks.ModelCheckpoint(dirpath=tmp, monitor="val_loss", mode="min")
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
        state = torch.load(checkpoint.best_model_path, weights_only=False)["state_dict"]
        module.load_state_dict(state)
    stats = {
        "epochs_run": float(trainer.current_epoch),
        "best_val_pinball_scaled": float(checkpoint.best_model_score),
        "stopped_early": float(trainer.current_epoch < epochs),
    }
    return module.model.eval(), stats


def predict(model: QuantileTransformer, context, last, dow, batch_size: int = 2048):
    """(N,H,3) quantiles in scaled units, decoded autoregressively."""
    outputs = []
    model.eval()
    dtype = next(model.parameters()).dtype  # float32, or 16-bit after quantization
    for start in range(0, len(context), batch_size):
        sl = slice(start, start + batch_size)
        outputs.append(
            model.decode(
                torch.as_tensor(context[sl], dtype=dtype),
                torch.as_tensor(last[sl], dtype=dtype),
                torch.as_tensor(dow[sl], dtype=torch.long),
            )
            .float()
            .numpy()
        )
    return np.concatenate(outputs)


PRECISIONS = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def with_precision(model: QuantileTransformer, precision: str) -> QuantileTransformer:
    """Post-training quantization: a copy of the model with 16-bit (or 32-bit) weights."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    copy = QuantileTransformer(model.config)
    copy.load_state_dict(model.state_dict())
    return copy.to(PRECISIONS[precision]).eval()
