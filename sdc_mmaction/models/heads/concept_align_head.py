"""Global branch of SDC: concept codes, their swapped alignment and the bottleneck
regularisers (Eq. 1-6)."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor

from ..losses import concept_alignment_loss, concept_codes, diversity_loss, fidelity_loss

#: the views, in the order of the contract in docs/design.md
VIEW_NAMES = ('clip', 'static', 'diff')


def _check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or int(value) != value or value < 1:
        raise ValueError(f'{name} must be a positive integer, got {value!r}')
    return int(value)


def _check_positive(name: str, value) -> float:
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and value > 0):
        raise ValueError(f'{name} must be a positive number, got {value!r}')
    return float(value)


def _check_non_negative(name: str, value) -> float:
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and value >= 0):
        raise ValueError(f'{name} must be a non-negative number, got {value!r}')
    return float(value)


def _build_projection(in_channels: int, projection: Optional[dict]) -> nn.Module:
    """sigma of Eq. 3: identity, or Linear-BN-ReLU-Linear."""
    if projection is None:
        return nn.Identity()
    allowed = {'hidden_channels', 'out_channels', 'with_norm'}
    unknown = set(projection) - allowed
    if unknown:
        raise ValueError(f'projection: unknown keys {sorted(unknown)}; allowed: '
                         f'{sorted(allowed)}')
    hidden = _check_positive_int('projection.hidden_channels',
                                 projection.get('hidden_channels', in_channels))
    out = _check_positive_int('projection.out_channels',
                              projection.get('out_channels', in_channels))
    layers = [nn.Linear(in_channels, hidden)]
    if projection.get('with_norm', True):
        layers.append(nn.BatchNorm1d(hidden))
    layers += [nn.ReLU(inplace=True), nn.Linear(hidden, out)]
    return nn.Sequential(*layers)


@MODELS.register_module()
class ConceptAlignHead(BaseModule):
    """Concept codes of the three views, aligned by swapped prediction (Eq. 1-6).

    Holds the prototypes ``P_s (Ks, Cp)``, ``P_d (Kd, Cp)``, ``P_v (Ks + Kd, Cp)`` (Eq. 1),
    a transformation ``sigma`` per view (Eq. 3; identity by default) and the two-layer
    decoders ``g`` of the fidelity loss (Eq. 6).

    Args:
        in_channels (int): C, channels of the pooled backbone features (512 for R(2+1)D-18).
        num_static_concepts (int): Ks. Default 50.
        num_dynamic_concepts (int): Kd. Default 50.
        projection (dict, optional): ``None`` (default) makes sigma the identity, so
            prototypes have C channels. A dict builds one MLP per view,
            Linear(C, hidden) - [BatchNorm1d] - ReLU - Linear(hidden, out), with keys
            ``hidden_channels`` (default C), ``out_channels`` (default C; the prototypes'
            width) and ``with_norm`` (default True).
        temperature (float): tau of the predictions in Eq. 4. Default 0.1.
        sinkhorn_epsilon (float): epsilon of Sinkhorn-Knopp. Default 0.05.
        sinkhorn_iterations (int): Sinkhorn-Knopp iterations. Default 3.
        alignment_weight (float): weight of ``loss_aln`` (1 in Eq. 11). Default 1.0.
        fidelity_weight (float): beta of Eq. 11. Default 1.0 (see
            :func:`~sdc_mmaction.models.losses.fidelity_loss` for the scale).
        diversity_weight (float): gamma of Eq. 11. Default 0.01.
        fidelity_hidden_channels (int, optional): hidden width of each decoder ``g``;
            default C.
        queue_length (int): rows of past codes kept per view for Sinkhorn (0, the default,
            turns the queue off). See "Score queue" below.
        queue_start_epoch (int): first epoch (0-based, as ``runner.epoch``) at which the
            queue is filled and used. Default 0.
        init_cfg (dict, optional): mmengine initialisation config.

    Shapes:
        ``forward(pooled)``: ``pooled`` is ``dict(clip=(N, C), static=(N, C), diff=(N, C))``
        (any subset of the three keys, e.g. only ``clip`` for feature extraction); returns
        the codes of the given views, ``dict(clip=(N, Ks + Kd), static=(N, Ks),
        diff=(N, Kd))``, cosine similarities in [-1, 1].

        ``loss(pooled, codes)``: both dicts with all three views; returns
        ``dict(loss_aln, loss_fid, loss_div)``, each a scalar already multiplied by its
        weight, plus ``aln_static`` and ``aln_dynamic``, the detached, unweighted halves
        of ``loss_aln`` for the logs.

    Score queue:
        Sinkhorn over a small batch is a degenerate transport problem (a batch of 8 cannot
        spread over 50 concepts), so, as SwAV and the authors' code do, the head can keep
        the codes of the last ``queue_length`` samples per view (``clip``, ``static``,
        ``diff``) and prepend them, detached, when solving the targets; only the batch's
        rows are used as targets. After each ``loss`` call the batch's codes (detached) are
        pushed in and the oldest rows drop out. The queue is active when
        ``queue_length > 0`` and the epoch given to :meth:`set_epoch` (0 until it is
        called) is at least ``queue_start_epoch``; a partly filled queue contributes the
        rows it has. Under DDP each rank keeps the codes of its own samples, and the
        Sinkhorn problem spans every rank's queue and batch.

        The queue tensors are plain attributes, not buffers, because DDP broadcasts
        buffers from rank 0 every iteration, which would overwrite each rank's own queue.
        For the same reason they are not in the state dict: a hook saves and restores them
        per rank with :meth:`queue_state` / :meth:`load_queue_state`, and calls
        :meth:`set_epoch` at the start of each epoch.
    """

    def __init__(self,
                 in_channels: int,
                 num_static_concepts: int = 50,
                 num_dynamic_concepts: int = 50,
                 projection: Optional[dict] = None,
                 temperature: float = 0.1,
                 sinkhorn_epsilon: float = 0.05,
                 sinkhorn_iterations: int = 3,
                 alignment_weight: float = 1.0,
                 fidelity_weight: float = 1.0,
                 diversity_weight: float = 0.01,
                 fidelity_hidden_channels: Optional[int] = None,
                 queue_length: int = 0,
                 queue_start_epoch: int = 0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = _check_positive_int('in_channels', in_channels)
        self.num_static_concepts = _check_positive_int('num_static_concepts (Ks)',
                                                       num_static_concepts)
        self.num_dynamic_concepts = _check_positive_int('num_dynamic_concepts (Kd)',
                                                        num_dynamic_concepts)
        self.temperature = _check_positive('temperature', temperature)
        self.sinkhorn_epsilon = _check_positive('sinkhorn_epsilon', sinkhorn_epsilon)
        self.sinkhorn_iterations = _check_positive_int('sinkhorn_iterations',
                                                       sinkhorn_iterations)
        self.alignment_weight = _check_non_negative('alignment_weight', alignment_weight)
        self.fidelity_weight = _check_non_negative('fidelity_weight', fidelity_weight)
        self.diversity_weight = _check_non_negative('diversity_weight', diversity_weight)
        if fidelity_hidden_channels is None:
            fidelity_hidden_channels = self.in_channels
        self.fidelity_hidden_channels = _check_positive_int('fidelity_hidden_channels',
                                                            fidelity_hidden_channels)
        if isinstance(queue_length, bool) or int(queue_length) != queue_length \
                or queue_length < 0:
            raise ValueError(f'queue_length must be an integer >= 0, got {queue_length!r}')
        self.queue_length = int(queue_length)
        if isinstance(queue_start_epoch, bool) or int(queue_start_epoch) != queue_start_epoch \
                or queue_start_epoch < 0:
            raise ValueError(f'queue_start_epoch must be an integer >= 0, got '
                             f'{queue_start_epoch!r}')
        self.queue_start_epoch = int(queue_start_epoch)
        if projection is not None and not isinstance(projection, dict):
            raise ValueError(f'projection must be None or a dict, got {projection!r}')

        self.projections = nn.ModuleDict(
            {view: _build_projection(self.in_channels, projection) for view in VIEW_NAMES})
        self.prototype_channels = (self.in_channels if projection is None else int(
            projection.get('out_channels', self.in_channels)))
        ks, kd, cp = self.num_static_concepts, self.num_dynamic_concepts, \
            self.prototype_channels
        # Random directions; the codes are cosines, so the prototypes' scale is irrelevant
        # to them, and rows of norm about one keep the local head's queries well scaled.
        self.static_prototypes = nn.Parameter(torch.randn(ks, cp) / cp**0.5)
        self.dynamic_prototypes = nn.Parameter(torch.randn(kd, cp) / cp**0.5)
        self.clip_prototypes = nn.Parameter(torch.randn(ks + kd, cp) / cp**0.5)

        hidden = self.fidelity_hidden_channels
        self.decoders = nn.ModuleDict({
            view: nn.Sequential(
                nn.Linear(self.num_concepts[view], hidden), nn.ReLU(inplace=True),
                nn.Linear(hidden, self.in_channels))
            for view in VIEW_NAMES
        })

        self.epoch = 0
        self._queues: Optional[Dict[str, Tensor]] = None
        self._queue_filled = 0

    # ------------------------------------------------------------------ properties
    @property
    def num_concepts(self) -> Dict[str, int]:
        """Number of concepts per view: ``dict(clip=Ks + Kd, static=Ks, diff=Kd)``."""
        ks, kd = self.num_static_concepts, self.num_dynamic_concepts
        return dict(clip=ks + kd, static=ks, diff=kd)

    @property
    def prototypes(self) -> Dict[str, Tensor]:
        """``dict(clip=P_v (Ks + Kd, Cp), static=P_s (Ks, Cp), diff=P_d (Kd, Cp))``."""
        return dict(clip=self.clip_prototypes, static=self.static_prototypes,
                    diff=self.dynamic_prototypes)

    # ------------------------------------------------------------------ forward / loss
    def _check_pooled(self, pooled: Dict[str, Tensor], require_all: bool) -> None:
        if not isinstance(pooled, dict):
            raise TypeError(f'ConceptAlignHead expects pooled features as a dict of views, '
                            f'got {type(pooled).__name__}')
        unknown = set(pooled) - set(VIEW_NAMES)
        if unknown:
            raise KeyError(f'ConceptAlignHead: unknown views {sorted(unknown)} in pooled '
                           f'features; expected keys among {VIEW_NAMES}')
        if require_all and set(pooled) != set(VIEW_NAMES):
            raise KeyError(f'ConceptAlignHead.loss needs pooled features of all views '
                           f'{VIEW_NAMES}, got {sorted(pooled)}')
        if not pooled:
            raise KeyError('ConceptAlignHead: pooled features are empty')
        for view, feat in pooled.items():
            if feat.dim() != 2 or feat.shape[1] != self.in_channels:
                raise ValueError(f"ConceptAlignHead: pooled['{view}'] must be (N, "
                                 f'{self.in_channels}) (in_channels), got {tuple(feat.shape)}')

    def forward(self, pooled: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Concept codes (Eq. 3) of each given view; see the class docstring for shapes."""
        self._check_pooled(pooled, require_all=False)
        prototypes = self.prototypes
        return {
            view: concept_codes(self.projections[view](feat), prototypes[view])
            for view, feat in pooled.items()
        }

    def loss(self, pooled: Dict[str, Tensor], codes: Dict[str, Tensor],
             data_samples=None) -> Dict[str, Tensor]:
        """Weighted ``loss_aln`` (Eq. 4), ``loss_fid`` (Eq. 6) and ``loss_div`` (Eq. 5).

        Also pushes the batch's codes into the score queue when it is active.
        ``data_samples`` is accepted, as by MMAction2's heads, and unused: SDC's targets
        come from the other view, never from labels.
        """
        self._check_loss_inputs(pooled, codes)
        aln_static, aln_dynamic = self._alignment_halves(codes)
        return self._weighted_losses(pooled, codes, aln_static + aln_dynamic, aln_static,
                                     aln_dynamic)

    def _check_loss_inputs(self, pooled: Dict[str, Tensor], codes: Dict[str, Tensor]) -> None:
        self._check_pooled(pooled, require_all=True)
        for view in VIEW_NAMES:
            expected = (pooled[view].shape[0], self.num_concepts[view])
            if view not in codes or tuple(codes[view].shape) != expected:
                got = tuple(codes[view].shape) if view in codes else 'missing'
                raise ValueError(f"{type(self).__name__}.loss: codes['{view}'] must be "
                                 f'{expected}, got {got}')

    def _alignment_halves(self, codes: Dict[str, Tensor]) -> Tuple[Tensor, Tensor]:
        """The static and dynamic halves of Eq. 4 (with gradient); feeds the queue."""
        queues = self._active_queue_rows(codes) if self.queue_active else None
        aln_static, aln_dynamic = concept_alignment_loss(
            codes['static'], codes['diff'], codes['clip'], temperature=self.temperature,
            epsilon=self.sinkhorn_epsilon, num_iters=self.sinkhorn_iterations, queues=queues,
            return_parts=True)
        if self.queue_active:
            self._push_to_queue(codes)
        return aln_static, aln_dynamic

    def _weighted_losses(self, pooled: Dict[str, Tensor], codes: Dict[str, Tensor],
                         alignment: Tensor, aln_static: Tensor,
                         aln_dynamic: Tensor) -> Dict[str, Tensor]:
        reconstructions = [self.decoders[view](codes[view]) for view in VIEW_NAMES]
        loss_fid = fidelity_loss(reconstructions, [pooled[view] for view in VIEW_NAMES])
        loss_div = diversity_loss([codes[view] for view in VIEW_NAMES])
        return dict(loss_aln=self.alignment_weight * alignment,
                    loss_fid=self.fidelity_weight * loss_fid,
                    loss_div=self.diversity_weight * loss_div,
                    # logged only (no 'loss' in the name, so mmengine does not add them
                    # again): the unweighted static and dynamic halves of loss_aln
                    aln_static=aln_static.detach(),
                    aln_dynamic=aln_dynamic.detach())

    # ------------------------------------------------------------------ score queue
    def set_epoch(self, epoch: int) -> None:
        """Tell the head the current (0-based) epoch; it decides whether the queue is on."""
        self.epoch = int(epoch)

    @property
    def queue_active(self) -> bool:
        """Whether :meth:`loss` uses and fills the score queue now."""
        return self.queue_length > 0 and self.epoch >= self.queue_start_epoch

    @property
    def queue_filled(self) -> int:
        """Number of queue rows holding real codes (at most ``queue_length``)."""
        return self._queue_filled

    def _ensure_queues(self, like: Dict[str, Tensor]) -> None:
        device = like['clip'].device
        if self._queues is None:
            self._queues = {
                view: torch.zeros(self.queue_length, k, device=device)
                for view, k in self.num_concepts.items()
            }
            self._queue_filled = 0
        elif self._queues['clip'].device != device:
            self._queues = {view: q.to(device) for view, q in self._queues.items()}

    def _active_queue_rows(self, codes: Dict[str, Tensor]) -> Optional[Dict[str, Tensor]]:
        self._ensure_queues(codes)
        if self._queue_filled == 0:
            return None
        # The newest rows are at the end, so the filled ones are the last `filled` rows.
        return {view: q[self.queue_length - self._queue_filled:]
                for view, q in self._queues.items()}

    @torch.no_grad()
    def _push_to_queue(self, codes: Dict[str, Tensor]) -> None:
        self._ensure_queues(codes)
        for view, q in self._queues.items():
            batch = codes[view].detach().to(q.dtype)
            self._queues[view] = torch.cat([q, batch], dim=0)[-self.queue_length:]
        self._queue_filled = min(self.queue_length,
                                 self._queue_filled + codes['clip'].shape[0])

    def reset_queue(self) -> None:
        """Empty the score queue."""
        self._queues = None
        self._queue_filled = 0

    def queue_state(self) -> dict:
        """This rank's queue as ``dict(scores=dict(clip=(L, Ks+Kd), static=(L, Ks),
        diff=(L, Kd)) or None, filled=int)``, on CPU, for a hook to save."""
        scores = None
        if self._queues is not None:
            scores = {view: q.detach().cpu().clone() for view, q in self._queues.items()}
        return dict(scores=scores, filled=self._queue_filled)

    def load_queue_state(self, state: dict) -> None:
        """Restore a queue saved by :meth:`queue_state`; shapes must match this config."""
        if not isinstance(state, dict) or set(state) != {'scores', 'filled'}:
            raise ValueError("load_queue_state expects dict(scores=..., filled=...) from "
                             f'queue_state(), got {state!r:.200}')
        scores, filled = state['scores'], int(state['filled'])
        if scores is None:
            self.reset_queue()
            return
        if set(scores) != set(VIEW_NAMES):
            raise ValueError(f'load_queue_state: scores must have keys {VIEW_NAMES}, got '
                             f'{sorted(scores)}')
        for view, k in self.num_concepts.items():
            if tuple(scores[view].shape) != (self.queue_length, k):
                raise ValueError(
                    f"load_queue_state: scores['{view}'] has shape "
                    f'{tuple(scores[view].shape)}, but queue_length={self.queue_length} and '
                    f'{k} concepts need ({self.queue_length}, {k})')
        if not 0 <= filled <= self.queue_length:
            raise ValueError(f'load_queue_state: filled={filled} is outside '
                             f'[0, queue_length={self.queue_length}]')
        device = self.clip_prototypes.device
        self._queues = {view: s.detach().to(device=device, dtype=torch.float32).clone()
                        for view, s in scores.items()}
        self._queue_filled = filled
