"""Do concept codes group videos, and by what? Diagnostics of a collapse.

The alignment loss (Eq. 4) learns only while the Sinkhorn targets of a view separate the
videos. When a view's codes become the same for every video, its targets become uniform,
the cross-entropy settles at ``ln K`` per term and nothing is learned from it any more.
:func:`code_assignment_stats` measures that on a set of codes (e.g. ``q_v^d`` of the
training videos), and says which known factor the assignments follow, if any.
:func:`factor_variance_share` says how much of a feature's spread one factor accounts
for, which a linear probe cannot: a probe reads a factor that moves a feature by little
but consistently as well as one that dominates it. :func:`cosine_code_parts` splits codes
into the parts a probe can read a factor from: the norm that Eq. 3 divides by, the dot
products before that division, and the shift shared by one sample's codes, which neither
the softmax nor the Sinkhorn targets of Eq. 4 see.
"""
import math
from collections import OrderedDict
from typing import Mapping

import torch
from torch import Tensor

from sdc_mmaction.models.losses.concept_codes import concept_codes
from sdc_mmaction.models.losses.sinkhorn import sinkhorn_knopp


def _check_labels(name: str, labels: Tensor, num_rows: int) -> Tensor:
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or labels.shape[0] != num_rows:
        raise ValueError(f'{name}: expected {num_rows} integer labels (one per row), got '
                         f'shape {tuple(labels.shape)}')
    if labels.is_floating_point() or labels.is_complex():
        raise TypeError(f'{name}: labels must be integers, got {labels.dtype}')
    return labels.long()


def normalized_mutual_information(first: Tensor, second: Tensor) -> float:
    """NMI of two labelings of the same items, ``I(a; b) / sqrt(H(a) H(b))``, in [0, 1].

    1 when one labeling is a relabeling of the other; 0 when they are independent in the
    sample, and by convention when either labeling puts every item in one group (no
    information to share).
    """
    first = _check_labels('normalized_mutual_information (first)', first, len(first))
    second = _check_labels('normalized_mutual_information (second)', second, len(first))
    if len(first) == 0:
        raise ValueError('normalized_mutual_information: no items')
    _, a = torch.unique(first, return_inverse=True)
    _, b = torch.unique(second, return_inverse=True)
    joint = torch.zeros(int(a.max()) + 1, int(b.max()) + 1, dtype=torch.float64)
    joint.index_put_((a, b), torch.ones(len(a), dtype=torch.float64), accumulate=True)
    joint /= joint.sum()
    pa, pb = joint.sum(1), joint.sum(0)
    h_a = -(pa * pa.log()).sum().item()
    h_b = -(pb * pb.log()).sum().item()
    if h_a <= 0 or h_b <= 0:
        return 0.0
    nonzero = joint > 0
    outer = pa[:, None] * pb[None, :]
    mutual = (joint[nonzero] * (joint[nonzero] / outer[nonzero]).log()).sum().item()
    return max(0.0, min(1.0, mutual / math.sqrt(h_a * h_b)))


def code_assignment_stats(codes: Tensor,
                          labels: Mapping[str, Tensor],
                          epsilon: float = 0.05,
                          num_iters: int = 3) -> 'OrderedDict[str, float]':
    """How sharply Sinkhorn assigns the rows of ``codes`` to concepts, and to what.

    The targets are solved over all rows at once (one transport problem), with the
    alignment head's settings.

    Args:
        codes: ``(N, K)`` concept codes of N videos, e.g. ``q_v^d``.
        labels: label-set name -> ``(N,)`` integer labels of the same videos.
        epsilon, num_iters: Sinkhorn-Knopp settings (the head's ``sinkhorn_epsilon`` and
            ``sinkhorn_iterations``).

    Returns:
        ``code_std``: standard deviation of each concept's code over the videos, averaged
        over concepts (near 0: every video has the same code);
        ``target_entropy``: mean entropy of a video's target, in nats;
        ``uniform_entropy``: ``ln K``, the entropy of a target that tells nothing;
        ``concepts_used``: how many concepts are some video's strongest target;
        ``nmi_<name>`` for each label set: NMI of the strongest target with the labels.
    """
    if codes.dim() != 2 or codes.shape[0] < 2:
        raise ValueError(f'code_assignment_stats: codes must be (N, K) with N >= 2, got '
                         f'{tuple(codes.shape)}')
    if not torch.isfinite(codes).all():
        raise ValueError('code_assignment_stats: codes contain NaN or Inf')
    codes = codes.detach().double()
    targets = sinkhorn_knopp(codes, epsilon=epsilon, num_iters=num_iters)
    entropy = -(targets * targets.clamp_min(1e-300).log()).sum(dim=1).mean()
    strongest = targets.argmax(dim=1)
    stats = OrderedDict(
        code_std=codes.std(dim=0).mean().item(),
        target_entropy=entropy.item(),
        uniform_entropy=math.log(codes.shape[1]),
        concepts_used=float(torch.unique(strongest).numel()))
    for name, values in labels.items():
        values = _check_labels(f'code_assignment_stats: labels[{name!r}]', values,
                               codes.shape[0])
        stats[f'nmi_{name}'] = normalized_mutual_information(strongest, values)
    return stats


def factor_variance_share(features: Tensor, labels: Tensor) -> float:
    """Share of the features' total variance that the label's class means account for.

    ``sum_c n_c ||mean_c - mean||^2 / sum_i ||x_i - mean||^2`` over the rows (videos),
    summed over dimensions, in [0, 1] (eta squared of a one-way analysis of variance,
    pooled over dimensions): 1 when the features are constant within each class, near 0
    when the class means coincide. With C classes and N rows, features unrelated to the
    label give about ``(C - 1) / (N - 1)`` by chance alone.

    Args:
        features: ``(N, D)`` features of N videos (e.g. ``q_v^d``).
        labels: ``(N,)`` integer labels of the same videos (e.g. their scenes).

    Returns:
        float: the share.
    """
    if features.dim() != 2 or features.shape[0] < 2:
        raise ValueError('factor_variance_share: features must be (N, D) with N >= 2, got '
                         f'{tuple(features.shape)}')
    if not torch.isfinite(features).all():
        raise ValueError('factor_variance_share: features contain NaN or Inf')
    labels = _check_labels('factor_variance_share: labels', labels, features.shape[0])
    centred = features.detach().double()
    centred = centred - centred.mean(dim=0)
    total = centred.pow(2).sum()
    if total == 0:
        raise ValueError('factor_variance_share: the features are the same for every row, '
                         'so no share of their variance can be given')
    _, groups = torch.unique(labels, return_inverse=True)
    counts = torch.bincount(groups).double()
    sums = torch.zeros(len(counts), centred.shape[1], dtype=torch.float64)
    sums.index_add_(0, groups, centred)
    between = (sums.pow(2).sum(dim=1) / counts).sum()  # sum_c n_c ||mean_c - mean||^2
    return float(between / total)


def cosine_code_parts(projected: Tensor, prototypes: Tensor,
                      eps: float = 1e-12) -> 'OrderedDict[str, Tensor]':
    """The parts of Eq. 3's cosine codes, each a feature that a probe can be trained on.

    Args:
        projected: ``(N, C)`` transformed pooled features ``sigma(x)``.
        prototypes: ``(K, C)`` the prototypes of the codes to split (e.g. the clip's
            dynamic ones, ``P_v[Ks:]``).
        eps: lower bound on the norms, as in ``concept_codes``.

    Returns:
        OrderedDict of ``norm`` ``(N, 1)``: ``||sigma(x)||``, the one number per sample
        that every code is divided by; ``dots`` ``(N, K)``: ``sigma(x)`` against the unit
        prototypes, before that division; ``codes`` ``(N, K)``: the codes themselves,
        ``dots / norm``; ``shift`` ``(N, 1)``: the mean of a sample's codes; ``centred``
        ``(N, K)``: the codes minus that shift. ``shift + centred == codes``.
    """
    if projected.dim() != 2 or prototypes.dim() != 2 or \
            projected.shape[1] != prototypes.shape[1]:
        raise ValueError('cosine_code_parts: expected projected (N, C) and prototypes (K, C), '
                         f'got {tuple(projected.shape)} and {tuple(prototypes.shape)}')
    for name, value in (('projected', projected), ('prototypes', prototypes)):
        if not torch.isfinite(value).all():
            raise ValueError(f'cosine_code_parts: {name} contain NaN or Inf')
    projected = projected.detach().double()
    codes = concept_codes(projected, prototypes.detach().double(), eps=eps)
    norm = projected.norm(dim=1, keepdim=True)
    dots = codes * norm.clamp_min(eps)
    shift = codes.mean(dim=1, keepdim=True)
    return OrderedDict(norm=norm, dots=dots, codes=codes, shift=shift,
                       centred=codes - shift)
