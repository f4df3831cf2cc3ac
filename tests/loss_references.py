"""Plain numpy / loop references of the Sinkhorn targets and the swapped-prediction
cross-entropy, shared by the loss tests of the core and of the projects."""
import math

import numpy as np


def ref_sinkhorn(scores, epsilon=0.05, num_iters=3):
    """SwAV's algorithm, as written there (no log space), in float64 numpy."""
    q = np.exp(np.asarray(scores, np.float64) / epsilon).T  # (K, B)
    num_k, num_b = q.shape
    q /= q.sum()
    for _ in range(num_iters):
        q /= q.sum(axis=1, keepdims=True)
        q /= num_k
        q /= q.sum(axis=0, keepdims=True)
        q /= num_b
    q *= num_b
    return q.T


def ref_cross_entropy(scores, targets, tau):
    """-1/N sum_n sum_k t_nk log(exp(s_nk / tau) / sum_k' exp(s_nk' / tau))."""
    total = 0.0
    for s_row, t_row in zip(np.asarray(scores, np.float64), np.asarray(targets, np.float64)):
        denom = sum(math.exp(s / tau) for s in s_row)
        total -= sum(t * math.log(math.exp(s / tau) / denom) for s, t in zip(s_row, t_row))
    return total / len(scores)
