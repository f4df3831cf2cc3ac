"""TeacherConceptAlignHead: the study's per-half weights, the fidelity term kept off
q_v^d, a target network's targets and the code regression."""
import pytest
import torch
from mmaction.registry import MODELS

import projects.cpu_scale_study.cpu_scale_study  # noqa: F401  (registration)
from projects.cpu_scale_study.cpu_scale_study.models import (code_regression_loss,
                                                              teacher_alignment_loss)
from sdc_mmaction.models.losses import concept_alignment_loss

torch.set_num_threads(1)
VIEWS = ('clip', 'static', 'diff')
C, KS, KD, N = 16, 6, 4, 5


def build_align(**kwargs):
    cfg = dict(type='TeacherConceptAlignHead', in_channels=C, num_static_concepts=KS,
               num_dynamic_concepts=KD)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def pooled_features(n=N, seed=0, requires_grad=False):
    gen = torch.Generator().manual_seed(seed)
    return {v: torch.randn(n, C, generator=gen).requires_grad_(requires_grad) for v in VIEWS}


def test_defaults_give_the_core_heads_losses():
    """With every study setting at its default the head is the paper's."""
    pooled = pooled_features()
    torch.manual_seed(0)
    core = MODELS.build(dict(type='ConceptAlignHead', in_channels=C, num_static_concepts=KS,
                             num_dynamic_concepts=KD))
    torch.manual_seed(0)
    study = build_align()
    expected, got = core.loss(pooled, core(pooled)), study.loss(pooled, study(pooled))
    assert set(expected) == set(got)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name])


def test_align_head_weights_each_half_and_logs_them_unweighted():
    torch.manual_seed(0)
    head = build_align(static_half_weight=0.1, dynamic_half_weight=2.0, alignment_weight=0.5)
    pooled = pooled_features()
    codes = head(pooled)
    losses = head.loss(pooled, codes)
    static, dynamic = concept_alignment_loss(codes['static'], codes['diff'], codes['clip'],
                                             return_parts=True)
    torch.testing.assert_close(losses['aln_static'], static)
    torch.testing.assert_close(losses['aln_dynamic'], dynamic)
    torch.testing.assert_close(losses['loss_aln'], 0.5 * (0.1 * static + 2.0 * dynamic))
    with pytest.raises(ValueError, match='static_half_weight'):
        build_align(static_half_weight=-1)
    with pytest.raises(ValueError, match='dynamic_half_weight'):
        build_align(dynamic_half_weight='1')


def test_align_head_can_keep_the_fidelity_gradient_off_the_dynamic_clip_codes():
    """Same losses either way; without the option L_fid's gradient reaches every code of
    the clip, with it none reaches q_v^d (and L_fid still reaches q_v^s and the other
    views' codes)."""
    pooled = pooled_features()
    grads = {}
    for through in (True, False):
        torch.manual_seed(0)
        head = build_align(fidelity_through_dynamic_clip_codes=through)
        codes = {v: c.detach().requires_grad_(True) for v, c in head(pooled).items()}
        losses = head.loss(pooled, codes)
        grads[through] = torch.autograd.grad(losses['loss_fid'], list(codes.values()))
        if through:
            reference = losses
        for name in ('loss_aln', 'loss_fid', 'loss_div'):
            torch.testing.assert_close(losses[name], reference[name])
    clip_paper, static_paper, diff_paper = grads[True]
    clip, static, diff = grads[False]
    assert clip_paper[:, KS:].abs().sum() > 0
    assert torch.count_nonzero(clip[:, KS:]) == 0
    torch.testing.assert_close(clip[:, :KS], clip_paper[:, :KS])
    torch.testing.assert_close(static, static_paper)
    torch.testing.assert_close(diff, diff_paper)
    with pytest.raises(ValueError, match='fidelity_through_dynamic_clip_codes'):
        build_align(fidelity_through_dynamic_clip_codes='no')


def test_align_head_target_codes():
    """A target network's features: codes without gradient and without touching sigma's
    BatchNorm statistics; the loss solves that view's targets from them and queues them."""
    torch.manual_seed(0)
    head = build_align(projection=dict(hidden_channels=12), queue_length=16)
    head.train()
    pooled = pooled_features(requires_grad=True)
    teacher = pooled_features(seed=5, requires_grad=True)
    stats = {n: b.clone() for n, b in head.named_buffers()}
    target = head.target_codes(dict(diff=teacher['diff']))
    assert set(target) == {'diff'} and not target['diff'].requires_grad
    for name, buffer in head.named_buffers():
        torch.testing.assert_close(buffer, stats[name], msg=name)
    assert head.training and head.projections['diff'].training
    head.eval()
    expected = head(dict(diff=teacher['diff']))['diff']  # eval-mode sigma, same codes
    head.train()
    torch.testing.assert_close(target['diff'], expected.detach())

    codes = head(pooled)
    losses = head.loss(pooled, codes, target_codes=target)
    static, dynamic = teacher_alignment_loss(codes['static'], codes['diff'], codes['clip'],
                                             return_parts=True, target_codes=target)
    torch.testing.assert_close(losses['aln_dynamic'], dynamic)
    torch.testing.assert_close(losses['loss_aln'], static + dynamic)
    assert not torch.allclose(dynamic, concept_alignment_loss(
        codes['static'], codes['diff'], codes['clip'], return_parts=True)[1])
    queued = head.queue_state()['scores']
    torch.testing.assert_close(queued['diff'][-N:], target['diff'])
    torch.testing.assert_close(queued['static'][-N:], codes['static'].detach())


def test_align_head_dynamic_code_regression():
    """Off by default (no extra key); at weight w, w times the regression of q_v^d onto the
    target codes of d, whose gradient reaches only the clip's dynamic codes."""
    pooled = pooled_features()
    teacher = pooled_features(seed=5)
    torch.manual_seed(0)
    paper = build_align()
    target = paper.target_codes(dict(diff=teacher['diff']))
    assert 'loss_code_reg' not in paper.loss(pooled, paper(pooled), target_codes=target)

    torch.manual_seed(0)
    head = build_align(dynamic_code_regression_weight=3.0)
    codes = {v: c.detach().requires_grad_(True) for v, c in head(pooled).items()}
    losses = head.loss(pooled, codes, target_codes=target)
    torch.testing.assert_close(losses['loss_code_reg'],
                               3.0 * code_regression_loss(codes['clip'][:, KS:], target['diff']))
    reference = paper.loss(pooled, paper(pooled), target_codes=target)
    for name in ('loss_aln', 'loss_fid', 'loss_div'):
        torch.testing.assert_close(losses[name], reference[name])
    clip, static, diff = torch.autograd.grad(losses['loss_code_reg'], list(codes.values()),
                                             allow_unused=True)
    assert clip[:, KS:].abs().sum() > 0 and torch.count_nonzero(clip[:, :KS]) == 0
    assert static is None and diff is None

    with pytest.raises(ValueError, match=r'dynamic_code_regression_weight=3.0 needs '
                                         r'target_codes\["diff"\]'):
        head.loss(pooled, codes)
    with pytest.raises(ValueError, match='dynamic_code_regression_weight'):
        build_align(dynamic_code_regression_weight=-1)
    with pytest.raises(ValueError, match='dynamic_code_regression_weight'):
        build_align(dynamic_code_regression_weight=True)
    with pytest.raises(ValueError, match='LabelTargetAlignHead does not support '
                                         'dynamic_code_regression_weight'):
        build_align(type='LabelTargetAlignHead', dynamic_code_regression_weight=1.0)
