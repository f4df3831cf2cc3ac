"""Each workaround in sdc_mmaction.compat: it is needed here, it works, and it stays out of
the way where upstream is fixed."""
import os
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp

import sdc_mmaction  # noqa: F401  (applies the fixes)
from sdc_mmaction import compat
from conftest import free_port


def test_fixes_applied_on_this_stack():
    # The pinned stack needs all of them; if one reports False, upstream fixed it and the
    # fix (and this line) can go.
    assert compat.APPLIED == {'missing_drn': True, 'checkpoint_weights_only': True,
                              'cpu_distributed': not torch.cuda.is_available(),
                              'bfloat16_head_scores': True, 'color_jitter_hue': True}


def test_color_jitter_shifts_hue_down_as_numpy_1_did():
    import numpy as np
    from mmaction.datasets.transforms.processing import ColorJitter

    img = np.zeros((2, 2, 3), np.float32)
    img[..., 0] = 200  # a red: hue 0, so a negative shift wraps round to 180 - 12
    shifted = ColorJitter.adjust_hue(img, -0.05)  # offset int(-12.75) = -12
    import cv2
    hue = cv2.cvtColor(shifted.astype(np.uint8), cv2.COLOR_RGB2HSV)[..., 0]
    assert shifted.dtype == np.float32 and (hue == 168).all()


def test_drn_stub_lets_mmaction_register_everything():
    from mmaction.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    from mmaction.models.localizers import DRN
    from mmaction.registry import MODELS
    assert MODELS.get('ResNet2Plus1d') is not None
    with pytest.raises(ImportError, match='2714'):
        DRN()


def test_drn_fix_inert_when_upstream_ships_it(monkeypatch):
    for name in ('mmaction.models.localizers.drn', 'mmaction.models.localizers.drn.drn'):
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(compat, '_mmaction_has_drn', lambda: True)
    assert compat.fix_missing_drn() is False
    assert 'mmaction.models.localizers.drn' not in sys.modules


def _checkpoint_with_message_hub(path):
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('sdc_compat_test')
    hub.update_scalar('train/loss', 1.5)
    torch.save({'state_dict': {'w': torch.ones(2)}, 'message_hub': hub.state_dict()}, path)


def test_checkpoint_with_history_buffer_loads(tmp_path):
    from mmengine.runner import load_checkpoint
    path = str(tmp_path / 'epoch_1.pth')
    _checkpoint_with_message_hub(path)
    # Without the fix torch >= 2.6 refuses the HistoryBuffer global.
    with pytest.raises(Exception, match='HistoryBuffer|weights_only'):
        torch.load(path)
    model = torch.nn.Module()
    model.w = torch.nn.Parameter(torch.zeros(2))
    checkpoint = load_checkpoint(model, path, map_location='cpu')
    assert 'message_hub' in checkpoint
    assert torch.equal(model.w.detach(), torch.ones(2))


def test_checkpoint_fix_inert_when_mmengine_passes_weights_only(monkeypatch):
    from mmengine.runner import checkpoint as ckpt_module

    def load_from_local(filename, map_location):
        return torch.load(filename, map_location=map_location, weights_only=False)

    monkeypatch.setattr(ckpt_module, 'load_from_local', load_from_local)
    assert compat._mmengine_loader_needs_weights_only() is False


def test_missing_checkpoint_names_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        compat.load_local_checkpoint(str(tmp_path / 'nope.pth'))


def _dist_worker(rank, world_size, port, queue):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    import sdc_mmaction  # noqa: F401
    from mmengine.dist import all_reduce, get_world_size, init_dist
    init_dist('pytorch')  # mmengine's default backend is nccl; the fix picks gloo
    value = torch.tensor([rank + 1.0])
    all_reduce(value, op='sum')
    queue.put((rank, get_world_size(), value.item()))
    compat.leave_distributed_run()  # runs multiprocessing's exit handler, which sends the put


@pytest.mark.skipif(torch.cuda.is_available(), reason='the fix is inert with CUDA')
def test_init_dist_pytorch_on_cpu():
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_dist_worker, args=(r, 2, port, queue)) for r in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    results = sorted(queue.get(timeout=5) for _ in range(2))
    assert results == [(0, 2, 3.0), (1, 2, 3.0)]


_LEAVE_SCRIPT = """
import atexit, os, sys
import sdc_mmaction  # noqa: F401
from mmengine.dist import all_gather_object, init_dist
from sdc_mmaction.compat import leave_distributed_run
rank, marker = int(os.environ['RANK']), sys.argv[1]
atexit.register(lambda: open(f'{marker}.atexit{rank}', 'w').close())
init_dist('pytorch')
gathered = all_gather_object({'rank': rank})
print('gathered', [g['rank'] for g in gathered], end='')  # no newline: still buffered
leave_distributed_run()
open(f'{marker}.after{rank}', 'w').close()
"""


def test_leave_distributed_run_exits_every_rank_cleanly(tmp_path):
    marker = str(tmp_path / 'rank')
    env = dict(os.environ, WORLD_SIZE='2', MASTER_ADDR='127.0.0.1',
               MASTER_PORT=str(free_port()), OMP_NUM_THREADS='1')
    env.pop('PYTHONUNBUFFERED', None)  # keep stdout buffered, as in a batch job
    procs = [subprocess.Popen([sys.executable, '-c', _LEAVE_SCRIPT, marker],
                              env=dict(env, RANK=str(r), LOCAL_RANK=str(r)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(2)]
    for rank, proc in enumerate(procs):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out == 'gathered [0, 1]'  # flushed before os._exit
        assert os.path.exists(f'{marker}.atexit{rank}')  # exit handlers ran
        assert not os.path.exists(f'{marker}.after{rank}')  # the process ended there


def test_leave_distributed_run_returns_without_process_group():
    assert not torch.distributed.is_initialized()
    assert compat.leave_distributed_run() is None


def test_cpu_distributed_fix_inert_with_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert compat.fix_cpu_distributed() is False


def test_adapt_cfg_for_device_without_cuda(monkeypatch):
    from mmengine.config import Config
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = Config(dict(
        model=dict(type='X', backbone=dict(norm_cfg=dict(type='SyncBN', requires_grad=True)),
                   heads=[dict(norm_cfg=dict(type='SyncBN'))]),
        model_wrapper_cfg=dict(find_unused_parameters=True),
        env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    assert compat.adapt_cfg_for_device(cfg) is True
    assert cfg.model.backbone.norm_cfg.type == 'BN3d'
    assert cfg.model.heads[0].norm_cfg.type == 'BN3d'
    assert cfg.model_wrapper_cfg == dict(type='MMDistributedDataParallel', device_ids=None,
                                         find_unused_parameters=True)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert compat.adapt_cfg_for_device(Config(dict(model=dict()))) is False


def _head_and_samples(labels=(0, 2, 1, 2)):
    from mmaction.models.heads import I3DHead
    from mmaction.structures import ActionDataSample
    head = I3DHead(num_classes=3, in_channels=8, topk=(1, 2))
    samples = [ActionDataSample().set_gt_label(label) for label in labels]
    return head, samples


def test_head_loss_takes_bfloat16_scores():
    """The class scores of a recognizer trained under CPU autocast (bfloat16) give the
    loss and accuracies of the same scores in float32; unpatched MMAction2 raises."""
    from mmaction.models.heads.base import BaseHead
    head, samples = _head_and_samples()
    scores = torch.tensor([[2.0, 0.5, -1.0], [0.25, 1.5, 3.0], [1.0, -2.0, 0.5],
                           [0.0, 4.0, 1.0]]).bfloat16().requires_grad_()
    original = BaseHead.loss_by_feat.__wrapped__
    with pytest.raises(TypeError, match='BFloat16'):
        original(head, scores, samples)
    assert compat._loss_by_feat_takes_bfloat16(original) is False
    assert compat._loss_by_feat_takes_bfloat16(BaseHead.loss_by_feat) is True

    losses = head.loss_by_feat(scores, samples)
    expected = original(head, scores.detach().float(), samples)
    assert set(losses) == {'top1_acc', 'top2_acc', 'loss_cls'}
    # top-1: rows 0 and 1 right (argmax 0 and 2), rows 2 and 3 wrong: 2 of 4
    assert losses['top1_acc'].item() == expected['top1_acc'].item() == 0.5
    assert losses['top2_acc'].item() == expected['top2_acc'].item()
    assert losses['loss_cls'].dtype == torch.float32
    torch.testing.assert_close(losses['loss_cls'], expected['loss_cls'])
    losses['loss_cls'].backward()  # the cast keeps the graph to the bfloat16 scores
    assert scores.grad is not None and scores.grad.dtype == torch.bfloat16
    # float32 scores take the original path unchanged
    float_scores = scores.detach().float()
    assert head.loss_by_feat(float_scores, samples)['loss_cls'].item() == \
        original(head, float_scores, samples)['loss_cls'].item()


def test_bfloat16_head_fix_inert_when_upstream_is_fixed(monkeypatch):
    from mmaction.models.heads.base import BaseHead
    patched = BaseHead.loss_by_feat
    monkeypatch.setattr(BaseHead, 'loss_by_feat', patched.__wrapped__)
    monkeypatch.setattr(compat, '_loss_by_feat_takes_bfloat16', lambda method: True)
    assert compat.fix_bfloat16_head_scores() is False
    assert BaseHead.loss_by_feat is patched.__wrapped__
    # applied again on a stack that needs it, it patches once
    monkeypatch.setattr(BaseHead, 'loss_by_feat', patched)
    assert compat.fix_bfloat16_head_scores() is True
    assert BaseHead.loss_by_feat is patched


def test_mmaction_scope_config_inherits_and_builds(tmp_path):
    """A config built on MMAction2's own bases through the ``mmaction::`` scope."""
    from mmengine.config import Config
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg_file = tmp_path / 'r2plus1d_from_mmaction.py'
    cfg_file.write_text(
        "_base_ = ['mmaction::_base_/models/r2plus1d_r34.py']\n"
        "custom_imports = dict(imports=['sdc_mmaction'], allow_failed_imports=False)\n"
        "model = dict(backbone=dict(depth=18, base_channels=8, pretrained=None),\n"
        "             cls_head=dict(in_channels=64, num_classes=3))\n")
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.model.backbone.type == 'ResNet2Plus1d'
    model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        feats = model(torch.rand(2, 1, 3, 8, 32, 32), mode='tensor')
        scores = model.cls_head(feats)
    assert feats.shape == (2, 64, 1, 1, 1)
    assert scores.shape == (2, 3)
