"""Checkpoint converter and release tool, on small hand-built checkpoints."""
import hashlib
import importlib.util
import os.path as osp
import re
from collections import OrderedDict

import pytest
import torch

from sdc_mmaction.apis.checkpoint import (CheckpointFormatError, convert_pretrained,
                                          publish_checkpoint)
from conftest import REPO_ROOT  # noqa: E402


def run_tool_main(script, argv):
    """``tools/<script>``'s ``main(argv)`` in this process (its ``__main__`` guard keeps
    the import from running it); saves an interpreter start per call."""
    path = osp.join(REPO_ROOT, 'tools', script)
    spec = importlib.util.spec_from_file_location(f'tool_{script[:-3]}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main([str(a) for a in argv])


def sdc_state_dict():
    return OrderedDict([
        ('backbone.conv1.weight', torch.randn(4, 3, 1, 3, 3)),
        ('backbone.bn1.running_mean', torch.randn(4)),
        ('backbone.bn1.num_batches_tracked', torch.tensor(7)),
        ('view_backbones.diff.conv1.weight', torch.randn(4, 3, 1, 3, 3)),
        ('align_head.clip_prototypes', torch.randn(6, 4)),
        ('align_head.static_prototypes', torch.randn(3, 4)),
        ('local_head.projections.clip.0.weight', torch.randn(4, 4)),
    ])


def mmengine_checkpoint(state_dict):
    return dict(meta=dict(epoch=3, iter=30, mmengine_version='0.10.7', cfg='model = {}'),
                state_dict=state_dict,
                message_hub=dict(log_scalars={}),
                optimizer=dict(state={}, param_groups=[dict(lr=0.01)]),
                param_schedulers=[dict(last_epoch=3)],
                sinkhorn_queue=torch.zeros(4, 6))


@pytest.fixture
def sdc_checkpoint(tmp_path):
    state = sdc_state_dict()
    path = tmp_path / 'epoch_3.pth'
    torch.save(mmengine_checkpoint(state), path)
    return str(path), state


def test_convert_keeps_exactly_the_clip_backbone(sdc_checkpoint, tmp_path):
    src, state = sdc_checkpoint
    dst = str(tmp_path / 'out' / 'backbone.pth')
    info = convert_pretrained(src, dst)
    assert info['num_tensors'] == 3 and info['prefix'] == 'backbone.'
    converted = torch.load(dst, weights_only=False)
    assert set(converted) == {'meta', 'state_dict'}
    assert list(converted['state_dict']) == [
        'backbone.conv1.weight', 'backbone.bn1.running_mean',
        'backbone.bn1.num_batches_tracked'
    ]
    for key, value in converted['state_dict'].items():
        assert torch.equal(value, state[key])
    assert converted['meta']['converted_from'] == 'epoch_3.pth'
    assert converted['meta']['source_epoch'] == 3

    bare = str(tmp_path / 'bare.pth')
    convert_pretrained(src, bare, strip_prefix=True)
    assert list(torch.load(bare, weights_only=False)['state_dict'])[0] == 'conv1.weight'


def test_converted_checkpoint_loads_with_mmengine_prefix_init(sdc_checkpoint, tmp_path):
    """The converted file works with ``init_cfg=dict(type='Pretrained', prefix=...)``."""
    from mmengine.model import BaseModule

    class Tiny(BaseModule):

        def __init__(self, init_cfg=None):
            super().__init__(init_cfg=init_cfg)
            self.conv1 = torch.nn.Conv3d(3, 4, (1, 3, 3), bias=False)
            self.bn1 = torch.nn.BatchNorm3d(4)

    src, state = sdc_checkpoint
    state['backbone.bn1.running_var'] = torch.rand(4) + 0.5
    state['backbone.bn1.weight'] = torch.randn(4)
    state['backbone.bn1.bias'] = torch.randn(4)
    torch.save(mmengine_checkpoint(state), src)
    dst = str(tmp_path / 'backbone.pth')
    convert_pretrained(src, dst)
    model = Tiny(init_cfg=dict(type='Pretrained', checkpoint=dst, prefix='backbone.'))
    model.init_weights()
    for key, value in model.state_dict().items():
        assert torch.equal(value, state['backbone.' + key]), key


def test_module_prefix_of_ddp_is_removed(tmp_path):
    state = OrderedDict(('module.' + k, v) for k, v in sdc_state_dict().items())
    src = str(tmp_path / 'ddp.pth')
    torch.save(dict(state_dict=state), src)
    dst = str(tmp_path / 'backbone.pth')
    convert_pretrained(src, dst)
    assert 'backbone.conv1.weight' in torch.load(dst, weights_only=False)['state_dict']


@pytest.mark.parametrize('content, message', [
    ([1, 2, 3], 'holds a list'),
    (dict(state_dict=OrderedDict(
        [('cls_head.fc.weight', torch.zeros(2, 2)),
         ('align_head.clip_prototypes', torch.zeros(2, 2))])), "no 'backbone.' keys"),
    (dict(state_dict=OrderedDict([('backbone.conv.weight', torch.zeros(2)),
                                  ('cls_head.fc_cls.weight', torch.zeros(2, 2))])),
     'no concept-head keys'),
    (dict(state_dict=dict(a='not a tensor')), 'not tensors'),
])
def test_converter_rejects_non_sdc_checkpoints(tmp_path, content, message):
    src = str(tmp_path / 'weird.pth')
    torch.save(content, src)
    with pytest.raises(CheckpointFormatError, match=message) as info:
        convert_pretrained(src, str(tmp_path / 'out.pth'))
    assert 'weird.pth' in str(info.value)
    assert not osp.exists(tmp_path / 'out.pth')


def test_converter_rejects_missing_and_unreadable_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.pth'):
        convert_pretrained(str(tmp_path / 'nothing.pth'), str(tmp_path / 'out.pth'))
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'not a checkpoint at all')
    with pytest.raises(CheckpointFormatError, match='garbage.pth is not a readable'):
        convert_pretrained(str(garbage), str(tmp_path / 'out.pth'))


def test_convert_tool_reports_errors_by_file(tool_runner, tmp_path):
    src = str(tmp_path / 'finetuned.pth')
    torch.save(dict(state_dict={'backbone.w': torch.zeros(1), 'cls_head.w': torch.zeros(1)}),
               src)
    proc = tool_runner(['tools/convert_pretrained.py', src, str(tmp_path / 'o.pth')],
                       check=False, timeout=120)
    assert proc.returncode != 0
    assert 'finetuned.pth is not an SDC pretraining checkpoint' in proc.stdout


def test_publish_drops_training_state_and_names_by_hash(sdc_checkpoint, tmp_path):
    src, state = sdc_checkpoint
    out = publish_checkpoint(src, str(tmp_path / 'release'), name='sdc_r2plus1d',
                             date='20240131')
    match = re.fullmatch(r'sdc_r2plus1d_20240131-([0-9a-f]{8})\.pth', osp.basename(out))
    assert match, out
    with open(out, 'rb') as handle:
        assert hashlib.sha256(handle.read()).hexdigest()[:8] == match.group(1)
    released = torch.load(out, weights_only=False)
    assert set(released) == {'meta', 'state_dict'}
    assert released['meta']['epoch'] == 3
    assert list(released['state_dict']) == list(state)
    assert all(torch.equal(released['state_dict'][k], v) for k, v in state.items())
    assert sorted(p.name for p in (tmp_path / 'release').iterdir()) == [osp.basename(out)]


def test_publish_rejects_bad_date_and_name(sdc_checkpoint, tmp_path):
    src, _ = sdc_checkpoint
    with pytest.raises(ValueError, match='YYYYMMDD'):
        publish_checkpoint(src, str(tmp_path), date='2024-01-31')
    with pytest.raises(ValueError, match='invalid model name'):
        publish_checkpoint(src, str(tmp_path), name='a/b')


def test_publish_tool_prints_the_released_path(sdc_checkpoint, tmp_path, capsys):
    src, _ = sdc_checkpoint
    run_tool_main('publish_model.py', [src, tmp_path / 'rel', '--name', 'tiny'])
    path = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r'tiny_\d{8}-[0-9a-f]{8}\.pth', osp.basename(path))
    assert osp.isfile(path)


TINY_PRETRAIN = 'configs/sdc/sdc_r2plus1d-tiny_1xb4-8x2x1-8e_synthetic-rgb.py'
TINY_PROBE = 'configs/sdc/benchmarks/linear-probe_r2plus1d-tiny_synthetic.py'


@pytest.fixture(scope='module')
def tiny_sdc_state():
    from sdc_mmaction.apis.feature_extraction import build_model
    model, what = build_model(TINY_PRETRAIN, None)
    assert what == 'random'
    return OrderedDict((k, v.clone()) for k, v in model.state_dict().items())


def test_check_backbone_loads_names_mismatches(tiny_sdc_state):
    from sdc_mmaction.apis.checkpoint import (check_backbone_loads,
                                              extract_backbone_state_dict)
    backbone = extract_backbone_state_dict(tiny_sdc_state, 'tiny.pth')
    check_backbone_loads(backbone, TINY_PROBE, filename='tiny.pth')  # fits exactly
    missing = OrderedDict(list(backbone.items())[1:])
    with pytest.raises(ValueError, match=r'tiny.pth does not match .* 1 missing keys'):
        check_backbone_loads(missing, TINY_PROBE, filename='tiny.pth')
    # the full-size downstream backbone has 8x the channels: every conv mismatches
    with pytest.raises(ValueError, match='shape mismatches'):
        check_backbone_loads(
            backbone, 'configs/sdc/benchmarks/linear-probe_r2plus1d-18_ucf101-split1.py',
            filename='tiny.pth')


def test_build_model_loads_whole_model_or_backbone_strictly(tiny_sdc_state, tmp_path):
    from sdc_mmaction.apis.concept_analysis import concept_analysis
    from sdc_mmaction.apis.feature_extraction import build_model
    full = tmp_path / 'sdc.pth'
    torch.save(dict(state_dict=tiny_sdc_state), full)
    model, what = build_model(TINY_PRETRAIN, str(full))
    assert what == 'model'
    assert all(torch.equal(v, tiny_sdc_state[k]) for k, v in model.state_dict().items())

    backbone = tmp_path / 'backbone.pth'
    convert_pretrained(str(full), str(backbone))
    model, what = build_model(TINY_PROBE, str(backbone))  # a Recognizer3D
    assert what == 'backbone'
    assert torch.equal(model.backbone.conv1.conv.conv_s.weight,
                       tiny_sdc_state['backbone.conv1.conv.conv_s.weight'])
    _, what = build_model(TINY_PRETRAIN, str(backbone))
    assert what == 'backbone'
    with pytest.raises(ValueError, match='holds only a backbone'):
        concept_analysis(TINY_PRETRAIN, str(backbone), 'unused.txt', 'unused.txt', '.')

    broken = OrderedDict(tiny_sdc_state)
    broken['backbone.conv1.conv.conv_s.weight'] = torch.zeros(1)
    torch.save(dict(state_dict=broken), full)
    with pytest.raises(ValueError, match=r'sdc.pth does not fit .*conv_s.weight'):
        build_model(TINY_PRETRAIN, str(full))
    torch.save(dict(state_dict={'head.w': torch.zeros(1)}), full)
    with pytest.raises(CheckpointFormatError, match="sdc.pth matches neither"):
        build_model(TINY_PRETRAIN, str(full))
