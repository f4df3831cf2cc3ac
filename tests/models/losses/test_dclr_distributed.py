"""DCLR under DDP (2 gloo processes on CPU, B samples each) equals one process on the
same 2B samples: the mean of the ranks' losses and their averaged gradients, the queue
after an update (every rank holds the global batch's keys), and the error when the global
batch does not divide the queue."""
import datetime
import os.path as osp

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from conftest import free_port
from sdc_mmaction.compat import leave_distributed_run
from sdc_mmaction.models.losses import (activation_alignment_loss, multi_positive_info_nce,
                                        queue_affinity, top_k_queue_positives)

WORLD_SIZE, B, D, C, K, TOP_K = 2, 3, 5, 4, 12, 3


def make_data():
    gen = torch.Generator().manual_seed(0)
    n = WORLD_SIZE * B
    return dict(
        inputs=torch.randn(n, C, generator=gen),
        keys=F.normalize(torch.randn(n, D, generator=gen), dim=1),
        anchors=F.normalize(torch.randn(n, D, generator=gen), dim=1),
        queue=F.normalize(torch.randn(K, D, generator=gen), dim=1),
        weight=torch.randn(C, D, generator=gen),
        maps=torch.rand(3, n, 2, 2, 2, generator=gen),
        new_keys=F.normalize(torch.randn(n, 8, generator=gen), dim=1))


def loss_and_grad(data, rows):
    weight = data['weight'].clone().requires_grad_()
    query = F.normalize(data['inputs'][rows] @ weight, dim=1)
    valid = torch.arange(K) < K - 2  # a queue still filling
    positives = top_k_queue_positives(queue_affinity(data['anchors'][rows], data['queue']),
                                      TOP_K, valid)
    loss = multi_positive_info_nce(query, data['keys'][rows], data['queue'], positives)
    loss.backward()
    align = activation_alignment_loss(*(m[rows] for m in data['maps']))
    return loss.detach(), weight.grad, align


def tiny_dclr(queue_length):
    from mmengine.registry import init_default_scope

    from mmaction.registry import MODELS
    init_default_scope('mmaction')
    return MODELS.build(dict(
        type='DCLR',
        backbone=dict(type='ResNet2Plus1d', depth=18, base_channels=2, pretrained=None,
                      pretrained2d=False, conv_cfg=dict(type='Conv2plus1d'),
                      norm_cfg=dict(type='BN3d', requires_grad=True), inflate=(1, 1, 1, 1)),
        head=dict(type='DCLRProjectionHead', in_channels=16, hidden_channels=8,
                  out_channels=8),
        queue_length=queue_length, top_k=1))


def _worker(rank, port, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=WORLD_SIZE, timeout=datetime.timedelta(seconds=60))
    try:
        import sdc_mmaction  # noqa: F401  (registration)
        data = make_data()
        rows = slice(rank * B, (rank + 1) * B)
        loss, grad, align = loss_and_grad(data, rows)
        dist.all_reduce(grad)  # DDP's gradient average
        model = tiny_dclr(queue_length=2 * WORLD_SIZE * B)
        torch.manual_seed(1)  # the same initial queue on both ranks (as a broadcast gives)
        for name in ('vv', 'vs', 'vd', 'sv', 'dv'):
            model.queue(name).copy_(torch.zeros_like(model.queue(name)))
        model._enqueue({name: data['new_keys'][rows] for name in ('vv', 'sv')})
        result = dict(loss=loss, grad=grad / WORLD_SIZE, align=align,
                      queue_vv=model.queue_vv.clone(), queue_sv=model.queue_sv.clone(),
                      ptr=int(model.queue_ptr), filled=int(model.queue_filled))
        try:
            tiny_dclr(queue_length=WORLD_SIZE * B + 1).loss(torch.zeros(B, 6, 3, 4, 8, 8))
        except ValueError as error:
            result['divide_error'] = str(error)
        torch.save(result, osp.join(out_dir, f'rank{rank}.pt'))
    except BaseException:
        dist.destroy_process_group()
        raise
    leave_distributed_run()


@pytest.fixture(scope='module')
def rank_results(tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp('dclr_dist'))
    mp.spawn(_worker, args=(free_port(), out_dir), nprocs=WORLD_SIZE, join=True)
    return [torch.load(osp.join(out_dir, f'rank{r}.pt')) for r in range(WORLD_SIZE)]


def test_two_ranks_of_b_equal_one_process_of_2b(rank_results):
    data = make_data()
    loss, grad, align = loss_and_grad(data, slice(None))
    mean_loss = sum(r['loss'] for r in rank_results) / WORLD_SIZE
    torch.testing.assert_close(mean_loss, loss)
    torch.testing.assert_close(sum(r['align'] for r in rank_results) / WORLD_SIZE, align)
    for result in rank_results:
        torch.testing.assert_close(result['grad'], grad)
    # the ranks' own losses differ, so the comparison can fail
    assert not torch.allclose(rank_results[0]['loss'], rank_results[1]['loss'])


def test_every_rank_holds_the_global_batchs_keys(rank_results):
    data = make_data()
    import sdc_mmaction  # noqa: F401
    single = tiny_dclr(queue_length=2 * WORLD_SIZE * B)
    for name in ('vv', 'vs', 'vd', 'sv', 'dv'):
        single.queue(name).zero_()
    single._enqueue({name: data['new_keys'] for name in ('vv', 'sv')})
    for result in rank_results:
        assert torch.equal(result['queue_vv'], single.queue_vv)
        assert torch.equal(result['queue_sv'], single.queue_sv)
        assert result['ptr'] == int(single.queue_ptr) == WORLD_SIZE * B
        assert result['filled'] == WORLD_SIZE * B
    assert torch.equal(single.queue_vv[:WORLD_SIZE * B], data['new_keys'])


def test_a_queue_the_global_batch_does_not_divide_is_a_config_error(rank_results):
    for result in rank_results:
        assert 'queue_length=7 is not a multiple of the global batch 6 ' \
               '(train_dataloader.batch_size=3 x 2 processes)' in result['divide_error']
