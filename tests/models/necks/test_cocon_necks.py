"""ConvGRU against a per-cell loop of the GRU equations; DensePredictor's shapes."""
import pytest
import torch

from mmaction.registry import MODELS

import sdc_mmaction  # noqa: F401


def reference_gru_cell(cell, x, h):
    """The GRU update written out for each spatial cell with a 1x1 kernel."""
    out = torch.empty_like(h)
    for b in range(x.shape[0]):
        for y in range(x.shape[2]):
            for w in range(x.shape[3]):
                xi, hi = x[b, :, y, w], h[b, :, y, w]

                def lin(conv, vec):
                    return conv.weight[:, :, 0, 0] @ vec + conv.bias

                both = torch.cat([xi, hi])
                r = torch.sigmoid(lin(cell.reset_gate, both))
                z = torch.sigmoid(lin(cell.update_gate, both))
                n = torch.tanh(lin(cell.candidate, torch.cat([xi, r * hi])))
                out[b, :, y, w] = (1 - z) * hi + z * n
    return out


def test_conv_gru_matches_loop_reference():
    torch.manual_seed(0)
    gru = MODELS.build(dict(type='ConvGRU', input_size=3, hidden_size=4, kernel_size=1,
                            num_layers=2, dropout=0.0)).double()
    seq = torch.randn(2, 3, 3, 2, 2, dtype=torch.float64)
    outputs, hidden = gru(seq)
    assert outputs.shape == (2, 3, 4, 2, 2) and hidden.shape == (2, 2, 4, 2, 2)
    h = [torch.zeros(2, 4, 2, 2, dtype=torch.float64) for _ in range(2)]
    for t in range(3):
        h[0] = reference_gru_cell(gru.cells[0], seq[:, t], h[0])
        h[1] = reference_gru_cell(gru.cells[1], h[0], h[1])
        assert torch.allclose(outputs[:, t], h[1], atol=1e-12)
    assert torch.allclose(hidden[0], h[0], atol=1e-12)


def test_conv_gru_orthogonal_init_and_errors():
    gru = MODELS.build(dict(type='ConvGRU', input_size=4, hidden_size=4))
    w = gru.cells[0].reset_gate.weight[:, :, 0, 0]  # (4, 8): orthogonal rows
    assert torch.allclose(w @ w.t(), torch.eye(4), atol=1e-5)
    with pytest.raises(ValueError, match=r'\(B, T, C, H, W\)'):
        gru(torch.randn(2, 4, 2, 2))
    with pytest.raises(ValueError, match=r'\(B, 4, H, W\)'):
        gru.step(torch.randn(2, 3, 2, 2))
    with pytest.raises(ValueError, match='odd'):
        MODELS.build(dict(type='ConvGRU', input_size=4, hidden_size=4, kernel_size=2))


def test_dense_predictor():
    pred = MODELS.build(dict(type='DensePredictor', in_channels=6, out_channels=5))
    assert pred(torch.randn(2, 6, 3, 3)).shape == (2, 5, 3, 3)
    with pytest.raises(ValueError, match=r'\(B, 6, H, W\)'):
        pred(torch.randn(2, 5, 3, 3))
