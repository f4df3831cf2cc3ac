"""Each workaround in sdc_mmaction.compat: it is needed here, it works, and it stays out of
the way where upstream is fixed."""
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp

import sdc_mmaction  # noqa: F401  (applies the fixes)
from sdc_mmaction import compat


def test_fixes_applied_on_this_stack():
    # The pinned stack needs all of them; if one reports False, upstream fixed it and the
    # fix (and this line) can go.
    assert compat.APPLIED == {'missing_drn': True, 'checkpoint_weights_only': True,
                              'cpu_distributed': not torch.cuda.is_available(),
                              'color_jitter_hue': True}


def test_color_jitter_negative_hue_shifts_back():
    import numpy as np
    from mmaction.datasets.transforms import ColorJitter
    img = np.zeros((2, 2, 3), np.float32)
    img[..., 0] = 200  # red: hue 0
    shifted = ColorJitter.adjust_hue(img, -0.1)  # raised OverflowError before the fix
    assert shifted.shape == (2, 2, 3) and shifted.dtype == np.float32
    assert shifted[0, 0, 2] > shifted[0, 0, 1]  # hue moved backwards, towards magenta
    # and shifting forward again comes back, up to the HSV round trip's rounding
    assert np.abs(ColorJitter.adjust_hue(shifted, 0.1) - img).max() <= 8


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


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


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
    port = _free_port()
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
               MASTER_PORT=str(_free_port()), OMP_NUM_THREADS='1')
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
