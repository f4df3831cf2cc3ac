"""TeacherConceptRecognizer: the moving-average target network for the Sinkhorn targets
of the frame difference (or static frame), and the code regression onto its codes."""
import copy

import pytest
import torch
from mmengine.registry import init_default_scope

import projects.cpu_scale_study.cpu_scale_study  # noqa: F401  (registration)
from mmaction.registry import MODELS
from projects.cpu_scale_study.cpu_scale_study.models import (code_regression_loss,
                                                              teacher_alignment_loss)
from sdc_mmaction.models.losses import concept_alignment_loss

from recognizer_helpers import CHANNELS, KD, KS, TOP_K, backbone_cfg, batch  # noqa: F401
from recognizer_helpers import model_cfg as shared_model_cfg


@pytest.fixture(autouse=True, scope='module')
def mmaction_scope():
    # mmcv builds Conv2plus1d through the default scope, as the runner sets it.
    init_default_scope('mmaction')


def model_cfg(**overrides):
    """The shared tiny recognizer as the study's teacher recognizer and align head."""
    cfg = shared_model_cfg(type='TeacherConceptRecognizer')
    cfg['align_head'] = dict(cfg['align_head'], type='TeacherConceptAlignHead')
    cfg.update(overrides)
    return cfg


def build(**overrides):
    torch.manual_seed(0)
    return MODELS.build(model_cfg(**overrides))


def test_without_momentum_it_trains_the_core_objective():
    """No target network: the same losses as ConceptPretrainRecognizer."""
    inputs = batch(n=2, size=32)
    study = build()
    core = build(type='ConceptPretrainRecognizer', align_head=dict(
        type='ConceptAlignHead', in_channels=CHANNELS, num_static_concepts=KS,
        num_dynamic_concepts=KD))
    core.load_state_dict(study.state_dict())
    expected, got = core(inputs, None, mode='loss'), study(inputs, None, mode='loss')
    assert set(expected) == set(got)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], msg=name)


# ---------------------------------------------------------------------------- target network
def _sgd_step(model, inputs):
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    optimizer.zero_grad()
    sum(v for k, v in model(inputs, None, mode='loss').items() if 'loss' in k).backward()
    optimizer.step()


def test_default_has_no_target_network():
    model = build()
    assert model.target_backbones is None and model.target_views == ()
    assert not any(k.startswith('target') for k in model.state_dict())


def test_target_network_is_a_moving_average_of_the_backbone():
    model = build(target_momentum=0.25)
    model.train()
    target = model.target_backbones['backbone']
    assert not any(p.requires_grad for p in target.parameters())
    inputs = batch(n=2, size=32)
    _sgd_step(model, inputs)  # the first call copies the backbone, then the step moves it
    before = {n: p.detach().clone() for n, p in target.module.named_parameters()}
    online = {n: p.detach().clone() for n, p in model.backbone.named_parameters()}
    assert any(not torch.equal(before[n], online[n]) for n in before)
    _sgd_step(model, inputs)
    for name, param in target.module.named_parameters():
        torch.testing.assert_close(param, 0.75 * before[name] + 0.25 * online[name], msg=name)
        assert param.grad is None, name
    assert int(target.steps) == 2
    # it survives a checkpoint round trip (a resumed run continues the same average)
    restored = build(target_momentum=0.25)
    restored.load_state_dict(model.state_dict())
    for (name, a), b in zip(target.state_dict().items(),
                            restored.target_backbones['backbone'].state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)


def _codes_and_teacher_codes_by_hand(model, inputs):
    """What the next loss call computes, on a copy: update the target network, run it on d,
    its codes through the head; and the online codes of all views."""
    views, _ = model.split_views(inputs, None, need_all_views=True)
    reference = copy.deepcopy(model)
    target = reference.target_backbones['backbone']
    target.update_parameters(reference.backbone)
    with torch.no_grad():
        teacher_map = target.module(views['diff'])
        teacher_codes = reference.align_head.target_codes(dict(diff=teacher_map.mean((2, 3, 4))))
    pooled, _ = reference.extract_feat(views)
    return reference.align_head(pooled), teacher_codes


def test_target_network_gives_the_dynamic_targets():
    model = build(target_momentum=0.1)
    model.train()
    inputs = batch(n=2, size=32)
    for _ in range(2):
        _sgd_step(model, inputs)  # so that the target differs from the online backbone
    codes, teacher_codes = _codes_and_teacher_codes_by_hand(model, inputs)
    losses = model(inputs, None, mode='loss')
    expected = teacher_alignment_loss(codes['static'], codes['diff'], codes['clip'],
                                      return_parts=True, target_codes=teacher_codes)
    torch.testing.assert_close(losses['aln_dynamic'], expected[1])
    torch.testing.assert_close(losses['aln_static'], expected[0])
    own = concept_alignment_loss(codes['static'], codes['diff'], codes['clip'],
                                 return_parts=True)[1]
    assert not torch.allclose(losses['aln_dynamic'], own)
    # tensor / predict never run the copy
    model.eval()
    steps = int(model.target_backbones['backbone'].steps)
    model(inputs[:, 0], None, mode='tensor')
    assert int(model.target_backbones['backbone'].steps) == steps


def test_code_regression_pulls_the_dynamic_clip_codes_to_the_target_codes_of_d():
    align_head = dict(type='TeacherConceptAlignHead', in_channels=CHANNELS,
                      num_static_concepts=KS, num_dynamic_concepts=KD,
                      dynamic_code_regression_weight=2.0)
    model = build(target_momentum=0.1, align_head=align_head)
    model.train()
    inputs = batch(n=2, size=32)
    _sgd_step(model, inputs)  # so that the target differs from the online backbone
    codes, teacher_codes = _codes_and_teacher_codes_by_hand(model, inputs)
    clip_codes = codes['clip']
    losses = model(inputs, None, mode='loss')
    torch.testing.assert_close(
        losses['loss_code_reg'],
        2.0 * code_regression_loss(clip_codes[:, KS:], teacher_codes['diff']))


def test_target_network_with_two_views_and_separate_backbones():
    shared = build(target_momentum=0.5, target_views=('static', 'diff'))
    assert list(shared.target_backbones) == ['backbone']  # one copy of the shared backbone
    shared.train()
    shared(batch(n=2, size=32), None, mode='loss')
    assert int(shared.target_backbones['backbone'].steps) == 1  # updated once per call
    separate = build(target_momentum=0.5, shared_backbone=False)
    assert list(separate.target_backbones) == ['diff']
    separate.train()
    separate(batch(n=2, size=32), None, mode='loss')
    for a, b in zip(separate.target_backbones['diff'].module.parameters(),
                    separate.view_backbones['diff'].parameters()):
        torch.testing.assert_close(a, b)  # the first update copies the view's backbone


def test_exported_backbone_leaves_the_target_network_out():
    from sdc_mmaction.apis.checkpoint import extract_backbone_state_dict
    model = build(target_momentum=0.5)
    exported = extract_backbone_state_dict(model.state_dict(), 'epoch_1.pth')
    assert set(exported) == {k[len('backbone.'):] for k in model.state_dict()
                             if k.startswith('backbone.')}


@pytest.mark.parametrize('overrides,error,match', [
    (dict(target_momentum=0), ValueError, 'target_momentum'),
    (dict(target_momentum=1.0), ValueError, r'\(0, 1\)'),
    (dict(target_momentum=True), ValueError, 'target_momentum'),
    (dict(target_momentum=0.1, target_views='diff'), TypeError, 'target_views'),
    (dict(target_momentum=0.1, target_views=('clip', )), ValueError, "'clip'"),
    (dict(target_momentum=0.1, target_views=()), ValueError, 'target_views'),
    (dict(target_momentum=0.1, target_views=('diff', 'diff')), ValueError, 'at most once'),
    (dict(target_momentum=0.1, align_head=dict(
        type='LabelTargetAlignHead', in_channels=CHANNELS, num_static_concepts=KS,
        num_dynamic_concepts=KD)), ValueError, 'LabelTargetAlignHead'),
    (dict(target_momentum=0.1, align_head=dict(
        type='ConceptAlignHead', in_channels=CHANNELS, num_static_concepts=KS,
        num_dynamic_concepts=KD)), ValueError, 'ConceptAlignHead does not'),
    (dict(align_head=dict(type='TeacherConceptAlignHead', in_channels=CHANNELS,
                          num_static_concepts=KS, num_dynamic_concepts=KD,
                          dynamic_code_regression_weight=1.0)),
     ValueError, r"dynamic_code_regression_weight=1.0 .* target_momentum=None"),
    (dict(target_momentum=0.1, target_views=('static', ), align_head=dict(
        type='TeacherConceptAlignHead', in_channels=CHANNELS, num_static_concepts=KS,
        num_dynamic_concepts=KD, dynamic_code_regression_weight=1.0)),
     ValueError, r"'diff' in target_views .*target_views=\('static',\)"),
])
def test_target_network_build_errors(overrides, error, match):
    with pytest.raises(error, match=match):
        MODELS.build(model_cfg(**overrides))
