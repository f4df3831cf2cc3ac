"""InfoNCE between views (the authors' code's extra terms) and its optional head."""
import math

import pytest
import torch

import sdc_mmaction  # noqa: F401
from mmaction.registry import MODELS
from sdc_mmaction.models.losses import info_nce_loss


def reference_info_nce(a, p, t):
    """Straightforward loops over the rows."""
    a = torch.nn.functional.normalize(a.double(), dim=1)
    p = torch.nn.functional.normalize(p.double(), dim=1)
    n = a.shape[0]
    total = 0.0
    for x, y in ((a, p), (p, a)):
        for i in range(n):
            logits = [float(x[i] @ y[j]) / t for j in range(n)]
            total += -(logits[i] - math.log(sum(math.exp(v) for v in logits))) / n
    return total / 2


def test_info_nce_matches_reference():
    gen = torch.Generator().manual_seed(0)
    a, p = torch.randn(5, 7, generator=gen), torch.randn(5, 7, generator=gen)
    assert info_nce_loss(a, p, 0.2).item() == pytest.approx(reference_info_nce(a, p, 0.2),
                                                            rel=1e-5)


def test_info_nce_is_low_for_matching_pairs_and_high_for_shuffled_ones():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(8, 16, generator=gen)
    matched = info_nce_loss(a, a + 0.01 * torch.randn(8, 16, generator=gen))
    shuffled = info_nce_loss(a, a.roll(1, dims=0))
    assert matched.item() < 0.01
    assert shuffled.item() > math.log(8)


@pytest.mark.parametrize('a, p, t, match', [
    (torch.zeros(4, 3), torch.zeros(5, 3), 0.1, 'must both be'),
    (torch.zeros(4), torch.zeros(4), 0.1, 'must both be'),
    (torch.zeros(4, 3), torch.zeros(4, 3), 0.0, 'temperature'),
])
def test_info_nce_rejects_bad_input(a, p, t, match):
    with pytest.raises(ValueError, match=match):
        info_nce_loss(a, p, t)


def build_head(**kwargs):
    cfg = dict(type='ViewContrastHead', in_channels=6, hidden_channels=8, out_channels=4)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_head_returns_one_weighted_loss_per_pair_and_trains_its_projections():
    torch.manual_seed(0)
    head = build_head(pairs=[('clip', 'diff'), ('clip', 'static')], loss_weight=0.5,
                      temperature=0.1)
    pooled = {v: torch.randn(4, 6, requires_grad=True) for v in ('clip', 'static', 'diff')}
    losses = head.loss(pooled)
    assert set(losses) == {'loss_nce_clip_diff', 'loss_nce_clip_static'}
    emb = {v: head.projections[v](pooled[v]) for v in pooled}
    torch.testing.assert_close(losses['loss_nce_clip_diff'],
                               0.5 * info_nce_loss(emb['clip'], emb['diff'], 0.1))
    sum(losses.values()).backward()
    assert pooled['diff'].grad.abs().sum() > 0
    assert all(p.grad is not None for p in head.parameters())


@pytest.mark.parametrize('kwargs, match', [
    (dict(pairs=[('clip', 'clip')]), 'two different views'),
    (dict(pairs=[('clip', 'depth')]), 'two different views'),
    (dict(pairs=[]), 'pairs is empty'),
    (dict(temperature=0), 'temperature'),
    (dict(in_channels=0), 'in_channels'),
    (dict(loss_weight=-1), 'loss_weight'),
])
def test_head_rejects_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_head(**kwargs)


def test_head_names_missing_views_and_bad_shapes():
    head = build_head()
    with pytest.raises(KeyError, match='diff'):
        head.loss(dict(clip=torch.randn(4, 6)))
    with pytest.raises(ValueError, match=r"pooled\['diff'\]"):
        head.loss(dict(clip=torch.randn(4, 6), diff=torch.randn(4, 5)))


def test_recognizer_adds_the_contrast_losses():
    from mmengine.registry import init_default_scope
    from recognizer_helpers import batch, build
    init_default_scope('mmaction')
    model = build(contrast_head=dict(type='ViewContrastHead', in_channels=64,
                                     hidden_channels=8, out_channels=4))
    model.train()
    losses = model(batch(), None, mode='loss')
    assert 'loss_nce_clip_diff' in losses and torch.isfinite(losses['loss_nce_clip_diff'])
    assert 'loss_aln' in losses
