"""ConceptDataPreprocessor: stack SDC's views and normalise each by its kind."""
from typing import Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseDataPreprocessor

from mmaction.registry import MODELS

# ImageNet statistics on 0..255 pixels, as in MMAction2's configs
_IMAGENET_MEAN = (123.675, 116.28, 103.53)
_IMAGENET_STD = (58.395, 57.12, 57.375)


def derive_clip_views(data_preprocessor, clip: torch.Tensor) -> dict:
    """``data_preprocessor.views_from_clip(clip)`` (the static frame and the frame
    difference of normalised clips, see :meth:`ConceptDataPreprocessor.views_from_clip`),
    or a TypeError naming a preprocessor that cannot derive them."""
    derive = getattr(data_preprocessor, 'views_from_clip', None)
    if derive is None:
        raise TypeError(f'{type(data_preprocessor).__name__} cannot derive the static frame '
                        'and the frame difference from a clip (it has no views_from_clip)')
    return derive(clip)


def _as_vector(values, name: str) -> torch.Tensor:
    vector = torch.as_tensor(values, dtype=torch.float32).reshape(-1)
    if vector.numel() == 0:
        raise ValueError(f'ConceptDataPreprocessor: {name} is empty')
    if name.endswith('std') and bool((vector <= 0).any()):
        raise ValueError(f'ConceptDataPreprocessor: {name} must be positive, got {values}')
    return vector


@MODELS.register_module()
class ConceptDataPreprocessor(BaseDataPreprocessor):
    """Stack a batch of SDC samples and normalise each view by its kind.

    Concept batches (samples packed by ``PackConceptInputs``, whose metainfo holds
    ``view_names``): ``inputs`` is a list of N float tensors (V, C, T, H, W), stacked to
    (N, V, C, T, H, W). RGB views (``clip``, ``static``, ``clip2``) become
    ``(x - mean) / std``; difference views (names starting with ``diff``) become
    ``x / diff_std``, with no mean subtracted: differences are already centred on zero.
    With ``diff_std = std`` (the default), ``d / std`` is exactly the difference of the
    two normalised frames, so ``d`` lives on the scale of ``v`` and ``s``.

    Clip-only batches (no ``view_names``, e.g. for feature extraction or with MMAction2's
    ``PackActionInputs``): a list of (C, T, H, W) tensors stacks to (N, C, T, H, W), and a
    list of (M, C, T, H, W) tensors (M clips or crops per video) to (N, M, C, T, H, W).
    Every frame is normalised as RGB.

    The channel axis is always the 4th from the end. Samples of different shapes are an
    error (no padding: that would silently change the clips).

    Args:
        mean (Sequence[float]): per-channel mean of RGB views (0..255 scale).
            Defaults to ImageNet's ``(123.675, 116.28, 103.53)``.
        std (Sequence[float]): per-channel std of RGB views. Defaults to ImageNet's
            ``(58.395, 57.12, 57.375)``.
        diff_std (float | Sequence[float], optional): per-channel (or one) divisor of the
            difference views. Defaults to None, meaning ``std``.
        to_rgb (bool): reverse the channel order (BGR input) of every view, differences
            included. Defaults to False (decord and ``RawFrameDecode`` give RGB).
        view_names (Sequence[str], optional): names of the view axis for samples that do
            not carry ``view_names`` (e.g. raw tensors without data samples). When samples
            do carry them, they must agree. Defaults to None.
        diff_prefix (str): views whose name starts with it are differences.
            Defaults to ``'diff'``.

    Returns (``forward``): ``dict(inputs=Tensor, data_samples=list or None)``.
    """

    def __init__(self,
                 mean: Sequence[float] = _IMAGENET_MEAN,
                 std: Sequence[float] = _IMAGENET_STD,
                 diff_std: Optional[Union[float, Sequence[float]]] = None,
                 to_rgb: bool = False,
                 view_names: Optional[Sequence[str]] = None,
                 diff_prefix: str = 'diff') -> None:
        super().__init__()
        mean = _as_vector(mean, 'mean')
        std = _as_vector(std, 'std')
        diff_std = std.clone() if diff_std is None else _as_vector(diff_std, 'diff_std')
        if mean.numel() != std.numel():
            raise ValueError(f'ConceptDataPreprocessor: mean has {mean.numel()} channels '
                             f'but std has {std.numel()}')
        self.register_buffer('mean', mean, persistent=False)
        self.register_buffer('std', std, persistent=False)
        self.register_buffer('diff_std', diff_std, persistent=False)
        self.to_rgb = to_rgb
        self.view_names = None if view_names is None else tuple(view_names)
        self.diff_prefix = diff_prefix

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _stack(inputs) -> torch.Tensor:
        if isinstance(inputs, torch.Tensor):
            return inputs.float()
        if not isinstance(inputs, (list, tuple)) or not inputs:
            raise TypeError('ConceptDataPreprocessor: inputs must be a tensor or a non-empty '
                            f'list of tensors, got {type(inputs).__name__}')
        shapes = [tuple(x.shape) for x in inputs]
        if len(set(shapes)) != 1:
            raise ValueError(f'ConceptDataPreprocessor: samples of different shapes {shapes}; '
                             'every sample needs the same views, clip length and crop size')
        return torch.stack([x.float() for x in inputs])

    def _batch_view_names(self, data_samples) -> Optional[Tuple[str, ...]]:
        names = set()
        for sample in data_samples or ():
            metainfo = getattr(sample, 'metainfo', {})
            names.add(tuple(metainfo['view_names']) if 'view_names' in metainfo else None)
        if len(names) > 1:
            raise ValueError('ConceptDataPreprocessor: samples in one batch have different '
                             f'view_names {sorted(names, key=str)}')
        from_samples = names.pop() if names else None
        if from_samples is not None and self.view_names is not None and \
                from_samples != self.view_names:
            raise ValueError(f'ConceptDataPreprocessor: samples say view_names={from_samples} '
                             f'but the preprocessor is configured with {self.view_names}')
        return from_samples if from_samples is not None else self.view_names

    def _channel_vector(self, vector: torch.Tensor, channels: int, name: str) -> torch.Tensor:
        if vector.numel() == channels:
            return vector
        if vector.numel() == 1:
            return vector.expand(channels)
        raise ValueError(f'ConceptDataPreprocessor: {name} has {vector.numel()} values but '
                         f'the inputs have {channels} channels')

    # ----------------------------------------------------------------- forward
    def forward(self, data: dict, training: bool = False) -> dict:
        """Stack and normalise ``data['inputs']``; see the class docstring for shapes."""
        if not isinstance(data, dict):
            raise TypeError('ConceptDataPreprocessor expects the dict a DataLoader with '
                            f'pseudo_collate gives, got {type(data).__name__}')
        data = self.cast_data(data)
        data_samples = data.get('data_samples', None)
        batch = self._stack(data['inputs'])
        view_names = self._batch_view_names(data_samples)

        if view_names is not None:
            if batch.dim() != 6 or batch.shape[1] != len(view_names):
                raise ValueError(
                    f'ConceptDataPreprocessor: view_names={view_names} needs a batch '
                    f'(N, {len(view_names)}, C, T, H, W), got {tuple(batch.shape)}')
            channels = batch.shape[2]
            if self.to_rgb:
                batch = batch.flip(2)
            mean = self._channel_vector(self.mean, channels, 'mean')
            std = self._channel_vector(self.std, channels, 'std')
            diff_std = self._channel_vector(self.diff_std, channels, 'diff_std')
            shift = torch.stack([torch.zeros_like(mean) if name.startswith(self.diff_prefix)
                                 else mean for name in view_names])
            scale = torch.stack([diff_std if name.startswith(self.diff_prefix) else std
                                 for name in view_names])
            shape = (1, len(view_names), channels, 1, 1, 1)
            batch = (batch - shift.view(shape)) / scale.view(shape)
        else:
            if batch.dim() not in (5, 6):
                raise ValueError('ConceptDataPreprocessor: a clip-only batch must be '
                                 '(N, C, T, H, W) or (N, M, C, T, H, W), got '
                                 f'{tuple(batch.shape)}')
            channels = batch.shape[-4]
            if self.to_rgb:
                batch = batch.flip(-4)
            shape = (channels, 1, 1, 1)
            mean = self._channel_vector(self.mean, channels, 'mean').view(shape)
            std = self._channel_vector(self.std, channels, 'std').view(shape)
            batch = (batch - mean) / std
        return dict(inputs=batch, data_samples=data_samples)

    def views_from_clip(self, clip: torch.Tensor) -> dict:
        """The static frame and the frame difference of clips already normalised here.

        For analyses of clip-only batches (feature extraction), which have no ``s`` or
        ``d`` of their own. ``static`` repeats each clip's centre frame (the deterministic
        choice for evaluation); ``diff`` holds the T - 1 differences of adjacent frames,
        rescaled from the RGB normalisation to this preprocessor's ``diff_std``, so that
        each frame of it equals what ``FrameDifference`` and this preprocessor give for the
        same two frames. It has no first difference: that would need the frame before the
        clip.

        Args:
            clip (Tensor): (M, C, T, H, W), T >= 2, normalised as RGB by :meth:`forward`.

        Returns:
            dict: ``static`` (M, C, T, H, W) and ``diff`` (M, C, T - 1, H, W).
        """
        if clip.dim() != 5 or clip.shape[2] < 2:
            raise ValueError('ConceptDataPreprocessor.views_from_clip: expected clips '
                             f'(M, C, T, H, W) with T >= 2, got {tuple(clip.shape)}')
        channels = clip.shape[1]
        shape = (1, channels, 1, 1, 1)
        std = self._channel_vector(self.std, channels, 'std').view(shape)
        diff_std = self._channel_vector(self.diff_std, channels, 'diff_std').view(shape)
        # (x[t+1] - mean) / std - (x[t] - mean) / std = (x[t+1] - x[t]) / std
        diff = (clip[:, :, 1:] - clip[:, :, :-1]) * (std / diff_std)
        centre = clip.shape[2] // 2
        static = clip[:, :, centre:centre + 1].expand_as(clip).contiguous()
        return dict(static=static, diff=diff)


__all__ = ['ConceptDataPreprocessor']
