"""MultiViewDataPreprocessor: stack each view of a multi-view batch and normalise it with
that view's own statistics."""
from typing import Dict, Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from mmaction.registry import MODELS


@MODELS.register_module()
class MultiViewDataPreprocessor(BaseDataPreprocessor):
    """Batch the ``inputs`` dicts of :class:`PackMultiViewInputs`.

    ``data['inputs']`` is a dict of view name -> list of N tensors ``(M, C, T, H, W)``
    (what ``pseudo_collate`` makes of the packed samples; a list of per-sample dicts or
    already stacked tensors are accepted too). Each view is stacked to ``(N, M, C, T, H,
    W)`` and normalised as ``(x - mean[view]) / std[view]`` per channel.

    Args:
        mean (dict): view name -> per-channel means (or one value), 0..255 scale.
        std (dict): view name -> per-channel stds (or one value), positive.

    Returns (``forward``): ``dict(inputs=dict(view -> Tensor), data_samples=...)``.
    """

    def __init__(self, mean: Dict[str, Sequence[float]], std: Dict[str, Sequence[float]]):
        super().__init__()
        if set(mean) != set(std):
            raise ValueError(f'MultiViewDataPreprocessor: mean has views {sorted(mean)} but '
                             f'std has {sorted(std)}')
        self.view_names = tuple(mean)
        for name in self.view_names:
            m = torch.as_tensor(mean[name], dtype=torch.float32).reshape(-1)
            s = torch.as_tensor(std[name], dtype=torch.float32).reshape(-1)
            if not s.numel() or bool((s <= 0).any()):
                raise ValueError(f'MultiViewDataPreprocessor: std[{name!r}] must be positive, '
                                 f'got {std[name]}')
            if m.numel() != s.numel():
                raise ValueError(f'MultiViewDataPreprocessor: view {name!r} has '
                                 f'{m.numel()} means but {s.numel()} stds')
            self.register_buffer(f'mean_{name}', m, persistent=False)
            self.register_buffer(f'std_{name}', s, persistent=False)

    def _stack(self, name: str, value) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            return value.float()
        shapes = [tuple(x.shape) for x in value]
        if not shapes or len(set(shapes)) != 1:
            raise ValueError(f'MultiViewDataPreprocessor: view {name!r} has samples of '
                             f'different shapes {shapes}')
        return torch.stack([x.float() for x in value])

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):  # per-sample dicts
            if not all(isinstance(x, dict) for x in inputs):
                raise TypeError('MultiViewDataPreprocessor: inputs must be dicts of views '
                                '(PackMultiViewInputs)')
            inputs = {k: [x[k] for x in inputs] for k in inputs[0]}
        if not isinstance(inputs, dict):
            raise TypeError('MultiViewDataPreprocessor: inputs must be a dict of views, got '
                            f'{type(inputs).__name__}')
        missing = [name for name in inputs if name not in self.view_names]
        if missing:
            raise KeyError(f'MultiViewDataPreprocessor: no mean/std for views {missing} '
                           f'(configured: {self.view_names})')
        batch = {}
        for name, value in inputs.items():
            x = self._stack(name, value)
            channels = x.shape[-4]
            mean, std = getattr(self, f'mean_{name}'), getattr(self, f'std_{name}')
            if mean.numel() not in (1, channels):
                raise ValueError(f'MultiViewDataPreprocessor: view {name!r} has {channels} '
                                 f'channels but {mean.numel()} means')
            shape = (-1, 1, 1, 1)
            batch[name] = (x - mean.view(shape)) / std.view(shape)
        return dict(inputs=batch, data_samples=data.get('data_samples', None))
