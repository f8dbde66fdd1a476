"""The Transformer decoded by ONNX Runtime: the model's own forecast, from a traced graph."""

import numpy as np
import pytest
import torch

from novamind_core.families.forecasting import transformer
from novamind_core.families.forecasting.onnx_decoder import OnnxDecoder, export


def _model(layers: int, seed: int = 0) -> transformer.QuantileTransformer:
    torch.manual_seed(seed)
    config = transformer.TransformerConfig(
        n_features=6, context_days=10, horizon=4, d_model=16, n_heads=4,
        encoder_layers=layers, decoder_layers=layers,
    )  # fmt: skip
    return transformer.QuantileTransformer(config).eval()


def _inputs(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, 10, 6, generator=g) * 2,
        torch.randn(n, generator=g),
        torch.randint(0, 7, (n, 4), generator=g),
    )


@pytest.mark.parametrize("layers", [1, 2])
def test_onnx_decoding_equals_the_model_for_any_batch_size(layers):
    model = _model(layers)
    decoder = OnnxDecoder(model)
    for n in (1, 5, 37):  # traced with a batch of 2: the batch axis is dynamic
        context, last, dow = _inputs(n, seed=n)
        expected = model.decode(context, last, dow).numpy()
        got = decoder(context.numpy(), last.numpy(), dow.numpy())
        assert got.shape == (n, 4, 3)
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


def test_export_leaves_the_model_in_eval_mode_with_the_same_output():
    # torch.onnx.export restores the exported module's mode: a wrapper left in training
    # mode would switch dropout on in the served model (seen while building this)
    model = _model(2)
    context, last, dow = _inputs(8, seed=1)
    before = model.decode(context, last, dow)
    export(model)
    assert not model.training and not any(m.training for m in model.modules())
    torch.testing.assert_close(model.decode(context, last, dow), before)


def test_sixteen_bit_models_stay_with_torch():
    with pytest.raises(ValueError, match="float32"):
        export(transformer.with_precision(_model(1), "float16"))
