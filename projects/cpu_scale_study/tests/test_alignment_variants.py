"""The study's loss variants (teacher targets for Eq. 4, the code regression) against
plain numpy references."""

import numpy as np
import pytest
import torch

from projects.cpu_scale_study.cpu_scale_study.models import (code_regression_loss,
                                                              teacher_alignment_loss)
from sdc_mmaction.models.losses import concept_alignment_loss, sinkhorn_knopp

from loss_references import ref_cross_entropy, ref_sinkhorn

torch.set_num_threads(1)


def rand(*shape, seed=0, requires_grad=False):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen).requires_grad_(requires_grad)


def rand_codes(n, k, seed=0):
    """Cosine-like scores in [-1, 1]."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, k, generator=gen) * 2 - 1


def test_without_target_codes_it_is_the_core_loss():
    q_s, q_d, q_v = rand_codes(6, 4, seed=1), rand_codes(6, 3, seed=2), rand_codes(6, 7, seed=3)
    for got, expected in zip(teacher_alignment_loss(q_s, q_d, q_v, return_parts=True),
                             concept_alignment_loss(q_s, q_d, q_v, return_parts=True)):
        torch.testing.assert_close(got, expected)


def test_concept_alignment_with_target_codes_matches_reference():
    """A target network's codes for d: the clip's dynamic half predicts their targets,
    twice over, and q_d predicts nothing; the static half is Eq. 4's."""
    n, ks, kd, tau = 6, 4, 3, 0.1
    q_s, q_d, q_v = rand_codes(n, ks, seed=40), rand_codes(n, kd, seed=41), rand_codes(
        n, ks + kd, seed=42)
    teacher_d = rand_codes(n, kd, seed=43)
    q_vs, q_vd = q_v[:, :ks].numpy(), q_v[:, ks:].numpy()
    static_half, dynamic_half = teacher_alignment_loss(
        q_s, q_d, q_v, temperature=tau, return_parts=True, target_codes=dict(diff=teacher_d))
    assert static_half.item() == pytest.approx(
        ref_cross_entropy(q_vs, ref_sinkhorn(q_s.numpy()), tau)
        + ref_cross_entropy(q_s, ref_sinkhorn(q_vs), tau), rel=1e-5)
    assert dynamic_half.item() == pytest.approx(
        2 * ref_cross_entropy(q_vd, ref_sinkhorn(teacher_d.numpy()), tau), rel=1e-5)
    # with a queue, the view's queue rows join the teacher's scores
    queue = rand_codes(9, ks, seed=44)
    teacher_s = rand_codes(n, ks, seed=45)
    static_half, _ = teacher_alignment_loss(
        q_s, q_d, q_v, temperature=tau, return_parts=True, queues=dict(static=queue),
        target_codes=dict(static=teacher_s))
    target = ref_sinkhorn(np.concatenate([queue.numpy(), teacher_s.numpy()]))[-n:]
    assert static_half.item() == pytest.approx(2 * ref_cross_entropy(q_vs, target, tau),
                                               rel=1e-5)


def test_concept_alignment_target_codes_gradient_and_checks():
    n, ks, kd, tau = 5, 4, 3, 0.1
    q_s = rand_codes(n, ks, seed=46).requires_grad_()
    q_d = rand_codes(n, kd, seed=47).requires_grad_()
    q_v = rand_codes(n, ks + kd, seed=48).requires_grad_()
    teacher_d = rand_codes(n, kd, seed=49).requires_grad_()
    teacher_alignment_loss(q_s, q_d, q_v, temperature=tau,
                           target_codes=dict(diff=teacher_d)).backward()
    assert teacher_d.grad is None
    assert q_d.grad is None  # q_d is in no term of the one-way half
    expected = 2 * (torch.softmax(q_v[:, ks:].detach() / tau, 1)
                    - sinkhorn_knopp(teacher_d.detach())) / (tau * n)
    torch.testing.assert_close(q_v.grad[:, ks:], expected)
    assert q_s.grad.abs().sum() > 0
    with pytest.raises(KeyError, match="'clip'"):
        teacher_alignment_loss(q_s, q_d, q_v, target_codes=dict(clip=q_v))
    with pytest.raises(ValueError, match=r"target_codes\['diff'\] is \(5, 4\)"):
        teacher_alignment_loss(q_s, q_d, q_v, target_codes=dict(diff=rand_codes(n, 4)))
    with pytest.raises(TypeError, match='dict'):
        teacher_alignment_loss(q_s, q_d, q_v, target_codes=[teacher_d])


# ----------------------------------------------------------------- not in the paper
def test_code_regression_loss_matches_reference_and_stops_target_gradient():
    clip = rand(3, 4, seed=32, requires_grad=True)
    target = rand(3, 4, seed=33, requires_grad=True)
    loss = code_regression_loss(clip, target)
    expected = sum(sum((float(a) - float(b))**2 for a, b in zip(row_c, row_t))
                   for row_c, row_t in zip(clip.detach().numpy(), target.detach().numpy())) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    torch.testing.assert_close(clip.grad, 2 * (clip - target).detach() / 3)
    assert target.grad is None
    assert code_regression_loss(target.detach(), target.detach()).item() == 0
    with pytest.raises(ValueError, match=r'clip codes \(3, 4\) and target codes \(3, 5\)'):
        code_regression_loss(rand(3, 4), rand(3, 5))
    with pytest.raises(ValueError, match='same'):
        code_regression_loss(rand(4), rand(4))
