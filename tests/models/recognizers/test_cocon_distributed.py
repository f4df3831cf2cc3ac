"""CoCon under DDP (2 gloo processes on CPU, 2 clips each) computes the losses of the
global batch of 4: the loss each rank reports and the rank-averaged gradients (what DDP
applies) equal one process's on the same 4 clips. Eval mode keeps BatchNorm on its running
statistics, so the features do not depend on how the batch is split."""
import datetime
import os.path as osp

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from conftest import free_port
from sdc_mmaction.compat import leave_distributed_run

WORLD_SIZE, LOCAL_BATCH, BLOCKS = 2, 2, 4


def build_model(global_negatives=True):
    from mmengine.registry import init_default_scope

    import sdc_mmaction  # noqa: F401
    from mmaction.registry import MODELS
    init_default_scope('mmaction')
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='CoCon', views=dict(rgb=dict(in_channels=3), flow=dict(in_channels=2)),
        backbone=dict(type='ResNet2d3d', depth=10, base_channels=4),
        aggregator=dict(type='ConvGRU', hidden_size=8), num_blocks=BLOCKS, num_pred_steps=2,
        cpc_temperature=0.1, global_negatives=global_negatives,
        data_preprocessor=dict(type='MultiViewDataPreprocessor',
                               mean=dict(rgb=[0.0], flow=[0.0]), std=dict(rgb=[1.0],
                                                                          flow=[1.0]))))
    return model.eval()


def make_batch():
    gen = torch.Generator().manual_seed(1)
    n = WORLD_SIZE * LOCAL_BATCH
    return dict(rgb=torch.randn(n, BLOCKS, 3, 3, 32, 32, generator=gen),
                flow=torch.randn(n, BLOCKS, 2, 3, 32, 32, generator=gen))


def loss_and_grads(model, batch):
    losses = model(batch, mode='loss')
    sum(losses.values()).backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()
             if p.grad is not None}
    return {k: v.detach() for k, v in losses.items()}, grads


def _worker(rank, port, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=WORLD_SIZE, timeout=datetime.timedelta(seconds=60))
    try:
        rows = slice(rank * LOCAL_BATCH, (rank + 1) * LOCAL_BATCH)
        batch = {k: v[rows] for k, v in make_batch().items()}
        result = dict(global_=loss_and_grads(build_model(True), batch),
                      local=loss_and_grads(build_model(False), batch))
        torch.save(result, osp.join(out_dir, f'rank{rank}.pt'))
    except BaseException:
        dist.destroy_process_group()
        raise
    leave_distributed_run()


@pytest.fixture(scope='module')
def rank_results(tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp('cocon_dist'))
    mp.spawn(_worker, args=(free_port(), out_dir), nprocs=WORLD_SIZE, join=True)
    return [torch.load(osp.join(out_dir, f'rank{r}.pt')) for r in range(WORLD_SIZE)]


def test_ddp_losses_and_gradients_match_one_process(rank_results):
    single_losses, single_grads = loss_and_grads(build_model(), make_batch())
    for result in rank_results:
        for key, value in single_losses.items():
            torch.testing.assert_close(result['global_'][0][key], value)
    assert set(single_grads) == set(rank_results[0]['global_'][1])
    for name, grad in single_grads.items():
        ddp = torch.stack([r['global_'][1][name] for r in rank_results]).mean(0)
        torch.testing.assert_close(ddp, grad, rtol=1e-4, atol=1e-6)


def test_without_global_negatives_each_rank_keeps_its_batch(rank_results):
    single_losses, _ = loss_and_grads(build_model(), make_batch())
    local = torch.stack([r['local'][0]['loss_sim_rgb_flow'] for r in rank_results])
    # the two halves alone give another loss: the test above can fail
    assert not torch.allclose(local.mean(), single_losses['loss_sim_rgb_flow'], atol=1e-4)
