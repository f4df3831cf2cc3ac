"""The label-target diagnostic: label_target_loss against a loop reference, and
LabelTargetAlignHead's terms, gradients, errors and its labels through the recognizer."""
import math

import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.registry import init_default_scope

import projects.cpu_scale_study.cpu_scale_study  # noqa: F401  (registration)
from projects.cpu_scale_study.cpu_scale_study.models import label_target_loss
from test_teacher_recognizer import backbone_cfg  # the tiny R(2+1)D

torch.set_num_threads(1)
C, KS, KD, N = 16, 6, 4, 5
VIEWS = ('clip', 'static', 'diff')


def codes_like(n, k, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.tanh(torch.randn(n, k, generator=gen))


def samples_with(labels):
    out = []
    for label in labels:
        sample = ActionDataSample()
        sample.set_gt_label(label)
        out.append(sample)
    return out


def build_head(**kwargs):
    cfg = dict(type='LabelTargetAlignHead', in_channels=C, num_static_concepts=KS,
               num_dynamic_concepts=KD)
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def pooled_features(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {view: torch.randn(N, C, generator=gen) for view in VIEWS}


# ----------------------------------------------------------------- the pure function
def test_label_target_loss_matches_loop_reference():
    scores, labels, tau = codes_like(N, KD, seed=3), torch.tensor([0, 3, 1, 1, 2]), 0.1
    expected = 0.0
    for row, label in zip(scores.tolist(), labels.tolist()):
        logits = [value / tau for value in row]
        log_norm = math.log(sum(math.exp(value) for value in logits))
        expected += -(logits[label] - log_norm)
    expected /= N
    assert label_target_loss(scores, labels, tau).item() == pytest.approx(expected, rel=1e-5)


def test_label_target_loss_is_low_only_for_the_right_concept():
    labels = torch.tensor([2, 0])
    right = torch.full((2, KD), -1.0)
    right[0, 2] = right[1, 0] = 1.0
    wrong = right.roll(1, dims=1)
    assert label_target_loss(right, labels) < 1e-6
    assert label_target_loss(wrong, labels) > 10


def test_label_target_loss_rejects_bad_labels():
    scores = codes_like(2, KD, seed=0)
    with pytest.raises(ValueError, match='label 4 is outside the 4 concepts'):
        label_target_loss(scores, torch.tensor([1, 4]))
    with pytest.raises(ValueError, match='label -1'):
        label_target_loss(scores, torch.tensor([-1, 0]))
    with pytest.raises(TypeError, match='integers'):
        label_target_loss(scores, torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match=r'labels must be \(2,\)'):
        label_target_loss(scores, torch.tensor([1, 0, 2]))


# ----------------------------------------------------------------- the head
@pytest.mark.parametrize('keep_other_half', [False, True])
def test_dynamic_label_targets_replace_only_the_dynamic_alignment(keep_other_half):
    head = build_head(keep_other_half=keep_other_half)
    reference = build_head(type='ConceptAlignHead')  # same seed: same parameters
    pooled = pooled_features()
    codes = head(pooled)
    labels = [3, 0, 2, 1, 3]
    losses = head.loss(pooled, codes, samples_with(labels))
    plain = reference.loss(pooled, reference(pooled))

    labelled = label_target_loss(codes['clip'][:, KS:], torch.tensor(labels), 0.1)
    torch.testing.assert_close(losses['aln_dynamic'], labelled.detach())
    # the other half is still measured (and logged) the way SDC measures it
    torch.testing.assert_close(losses['aln_static'], plain['aln_static'])
    expected = labelled + (plain['aln_static'] if keep_other_half else 0)
    torch.testing.assert_close(losses['loss_aln'].detach(), expected.detach())
    for name in ('loss_fid', 'loss_div'):  # unchanged terms
        torch.testing.assert_close(losses[name], plain[name])


def test_label_target_head_weights_each_half():
    # the half weights act as in ConceptAlignHead, labels or not, so that a warm-up of the
    # static half (StaticHalfWarmupHook) is not silently ignored by this head
    head = build_head(keep_other_half=True, static_half_weight=0.3, dynamic_half_weight=2.0)
    pooled = pooled_features()
    losses = head.loss(pooled, head(pooled), samples_with([3, 0, 2, 1, 3]))
    expected = 2.0 * losses['aln_dynamic'] + 0.3 * losses['aln_static']
    torch.testing.assert_close(losses['loss_aln'].detach(), expected)
    dropped = build_head(static_half_weight=0.3, dynamic_half_weight=2.0)
    losses = dropped.loss(pooled, dropped(pooled), samples_with([3, 0, 2, 1, 3]))
    torch.testing.assert_close(losses['loss_aln'].detach(), 2.0 * losses['aln_dynamic'])
    static = build_head(label_half='static', keep_other_half=True, static_half_weight=0.5,
                        dynamic_half_weight=0.25)
    losses = static.loss(pooled, static(pooled), samples_with([5, 0, 2, 1, 4]))
    expected = 0.5 * losses['aln_static'] + 0.25 * losses['aln_dynamic']
    torch.testing.assert_close(losses['loss_aln'].detach(), expected)


def test_static_label_targets():
    head = build_head(label_half='static')
    pooled = pooled_features()
    codes = head(pooled)
    labels = [5, 0, 2, 1, 4]  # Ks = 6 concepts
    losses = head.loss(pooled, codes, samples_with(labels))
    torch.testing.assert_close(
        losses['aln_static'],
        label_target_loss(codes['clip'][:, :KS], torch.tensor(labels), 0.1).detach())
    torch.testing.assert_close(losses['loss_aln'].detach(), losses['aln_static'])


def test_label_targets_are_one_way_and_every_parameter_stays_in_the_graph():
    head = build_head()
    pooled = pooled_features()
    codes = head(pooled)
    for code in codes.values():
        code.retain_grad()
    head.loss(pooled, codes, samples_with([0, 1, 2, 3, 0]))['loss_aln'].backward()
    assert codes['clip'].grad[:, KS:].abs().sum() > 0  # q_v^d learns from the labels
    assert codes['clip'].grad[:, :KS].abs().sum() == 0  # static half off
    assert codes['diff'].grad.abs().sum() == 0  # nothing pulls q_d towards the labels
    assert codes['static'].grad.abs().sum() == 0
    # ... yet no prototype is left out of the graph (DDP needs a gradient for each)
    assert head.static_prototypes.grad is not None
    assert head.dynamic_prototypes.grad is not None


def test_label_target_head_errors_name_what_is_wrong():
    head = build_head()
    pooled = pooled_features()
    codes = head(pooled)
    with pytest.raises(ValueError, match='needs the 5 data samples'):
        head.loss(pooled, codes)
    with pytest.raises(ValueError, match='needs the 5 data samples'):
        head.loss(pooled, codes, samples_with([0, 1]))
    with pytest.raises(ValueError, match=r'dynamic half\): .*label 7 is outside the 4 '
                                         r'concepts.*at most 4 classes'):
        head.loss(pooled, codes, samples_with([0, 1, 7, 2, 3]))
    unlabelled = samples_with([0, 1, 2, 3]) + [ActionDataSample()]
    with pytest.raises(KeyError, match='data sample 4 has no gt_label'):
        head.loss(pooled, codes, unlabelled)
    with pytest.raises(ValueError, match='label_half'):
        build_head(label_half='motion')
    with pytest.raises(ValueError, match='keep_other_half'):
        build_head(keep_other_half='yes')


def test_recognizer_hands_the_labels_to_the_head():
    init_default_scope('mmaction')
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='ConceptPretrainRecognizer', backbone=backbone_cfg(),
        align_head=dict(type='LabelTargetAlignHead', in_channels=64, num_static_concepts=KS,
                        num_dynamic_concepts=KD),
        data_preprocessor=dict(type='mmengine.BaseDataPreprocessor')))
    model.train()
    inputs = torch.randn(2, 3, 3, 8, 32, 32, generator=torch.Generator().manual_seed(1))
    losses = model(inputs, samples_with([1, 3]), mode='loss')
    with torch.no_grad():
        views, _ = model.split_views(inputs, None, need_all_views=True)
        pooled, _ = model.extract_feat(views)
        clip_dynamic = model.align_head(pooled)['clip'][:, KS:]
    torch.testing.assert_close(losses['aln_dynamic'],
                               label_target_loss(clip_dynamic, torch.tensor([1, 3]), 0.1))
    with pytest.raises(KeyError, match='no gt_label'):
        model(inputs, [ActionDataSample(), ActionDataSample()], mode='loss')
