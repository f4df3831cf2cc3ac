"""A regression of the clip's raw dynamic codes onto a target network's codes of the
frame difference. Not in the paper.

Eq. 4 compares softmax(q_v^d / tau) with its targets, so it cannot see a shift shared by
all of a sample's dynamic codes, nor codes far below the largest one. Those parts of
``q_v^d`` are left to ``L_fid``, which fills them with whatever rebuilds ``v`` best: on the
synthetic data, the scene. This term trains every dynamic code towards the matching code
of ``d``, through the same prototypes.
"""
from torch import Tensor


def code_regression_loss(clip_dynamic_codes: Tensor, target_dynamic_codes: Tensor) -> Tensor:
    """Squared distance between two sets of codes, summed over concepts.

    Args:
        clip_dynamic_codes: ``q_v^d``, ``(N, Kd)``, the clip's dynamic codes (gradient
            flows into them).
        target_dynamic_codes: ``(N, Kd)`` codes of the same samples' frame differences,
            e.g. from a target network; detached here.

    Returns:
        Scalar: ``sum_k (q_v^d[n, k] - target[n, k]) ** 2``, averaged over the N samples.
    """
    if clip_dynamic_codes.dim() != 2 or clip_dynamic_codes.shape != target_dynamic_codes.shape:
        raise ValueError(f'code_regression_loss: clip codes {tuple(clip_dynamic_codes.shape)} '
                         f'and target codes {tuple(target_dynamic_codes.shape)} must be the '
                         'same (N, Kd)')
    gap = clip_dynamic_codes - target_dynamic_codes.detach()
    return gap.pow(2).sum(dim=1).mean()
