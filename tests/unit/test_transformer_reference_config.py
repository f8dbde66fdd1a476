"""The design document's reference Transformer (8 heads, 6 encoder / 6 decoder layers)."""

import torch

from novamind_core.families.forecasting.transformer import (
    QuantileTransformer,
    TransformerConfig,
    with_precision,
)


def test_reference_configuration_builds_and_decodes():
    small = QuantileTransformer(TransformerConfig(n_features=26, context_days=28, horizon=7))
    reference = QuantileTransformer(
        TransformerConfig(
            n_features=26, context_days=28, horizon=7, encoder_layers=6, decoder_layers=6
        )
    ).eval()
    assert len(reference.core.encoder.layers) == 6 and len(reference.core.decoder.layers) == 6
    assert reference.core.encoder.layers[0].self_attn.num_heads == 8
    count = sum(p.numel() for p in reference.parameters())
    assert count > 2.5 * sum(p.numel() for p in small.parameters())
    out = reference.decode(torch.randn(3, 28, 26), torch.randn(3), torch.randint(0, 7, (3, 7)))
    assert out.shape == (3, 7, 3)


def test_sixteen_bit_copy_stays_close_to_float32():
    model = QuantileTransformer(TransformerConfig(n_features=5, context_days=14, horizon=3)).eval()
    x, last, dow = torch.randn(8, 14, 5), torch.randn(8), torch.randint(0, 7, (8, 3))
    reference = model.decode(x, last, dow)
    half = with_precision(model, "float16")
    assert next(half.parameters()).dtype == torch.float16
    out = half.decode(x.half(), last.half(), dow).float()
    assert torch.allclose(out, reference, atol=0.05)
    assert next(model.parameters()).dtype == torch.float32  # the original is untouched
