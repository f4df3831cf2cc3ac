"""ClipWiseTransforms: augment each clip of a multi-clip sample on its own; ClipGaussianBlur."""
import copy
from typing import List, Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform, Compose

from mmaction.registry import TRANSFORMS
from ._clips import clip_layout

#: keys holding one entry per frame, concatenated over the clips after the transforms
FRAME_KEYS = ('imgs', 'diff_imgs', 'static_imgs')


@TRANSFORMS.register_module()
class ClipWiseTransforms(BaseTransform):
    """Run ``transforms`` once per clip, so every clip draws its own random parameters.

    MMAction2's transforms treat all frames of ``results['imgs']`` as one video: with
    ``SampleFrames(num_clips=2)`` both clips get the same crop, flip and colour jitter.
    Contrastive methods that treat two clips of a video as two views (MoCo-style video
    pretraining, DCLR) need each clip augmented independently; this wrapper splits the
    frames into ``num_clips`` sub-samples (each ``num_clips=1``), runs ``transforms`` on
    each and concatenates the per-frame outputs ``imgs``, ``diff_imgs`` and
    ``static_imgs`` (clip 0 first), so ``PackConceptInputs`` finds clip ``c`` of each at
    its usual place (views ``clip2``, ``static2``, ``diff2``).

    Other keys of the output (``img_shape``, ``crop_bbox``, ...) are clip 0's; every
    clip must end with the same ``clip_len`` and frame shape.

    Required keys: ``imgs``, ``clip_len``, ``num_clips``; optional ``frame_inds`` (split
    per clip and concatenated back).

    Args:
        transforms (list[dict]): the pipeline run on each clip, e.g.
            ``StaticFrame``, ``RandomResizedCrop``, ``Resize``, ``Flip``, colour
            transforms, ``FrameDifference``.
        shared_keys (Sequence[str]): keys that clip 0's run writes and the later clips'
            runs receive, so a choice is made once per video. E.g.
            ``('static_frame_position',)``: every clip's static frame is taken at the
            same position in its clip (``StaticFrame`` reuses a given position).
            Defaults to ().
    """

    def __init__(self, transforms: List[dict], shared_keys: Sequence[str] = ()) -> None:
        if not isinstance(transforms, (list, tuple)) or not transforms:
            raise ValueError(f'ClipWiseTransforms: transforms must be a non-empty list, '
                             f'got {transforms!r}')
        self.transforms_cfg = copy.deepcopy(list(transforms))
        self.transforms = Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t
                                   for t in transforms])
        self.shared_keys = tuple(shared_keys)

    def transform(self, results: dict) -> dict:
        num_clips, clip_len = clip_layout(results, 'ClipWiseTransforms')
        frame_inds = results.get('frame_inds', None)
        if frame_inds is not None:
            frame_inds = np.asarray(frame_inds).reshape(-1)
            if frame_inds.size != num_clips * clip_len:
                frame_inds = None
        outputs, shared = [], {}
        for clip in range(num_clips):
            frames = slice(clip * clip_len, (clip + 1) * clip_len)
            sub = {k: v for k, v in results.items() if k not in ('imgs', 'frame_inds')}
            sub.update(imgs=list(results['imgs'][frames]), num_clips=1, clip_len=clip_len,
                       **shared)
            if frame_inds is not None:
                sub['frame_inds'] = frame_inds[frames]
            out = self.transforms(sub)
            if out is None:
                raise RuntimeError(f'ClipWiseTransforms: a transform of {self.transforms} '
                                   f'returned None for clip {clip}')
            shared = {k: out[k] for k in self.shared_keys if k in out}
            outputs.append(out)

        merged = dict(outputs[0])
        lengths = {int(out['clip_len']) for out in outputs}
        if len(lengths) != 1:
            raise ValueError(f'ClipWiseTransforms: the clips end with different clip_len '
                             f'{sorted(lengths)}')
        for key in FRAME_KEYS:
            present = [key in out for out in outputs]
            if not any(present):
                continue
            if not all(present):
                raise KeyError(f'ClipWiseTransforms: only some clips produced {key!r}')
            shapes = {np.shape(frame) for out in outputs for frame in out[key]}
            if len(shapes) != 1:
                raise ValueError(f'ClipWiseTransforms: {key!r} has frames of different '
                                 f'shapes over the clips: {sorted(shapes)}; give every clip '
                                 'the same output size (e.g. Resize(keep_ratio=False))')
            if key == 'imgs':
                merged[key] = [frame for out in outputs for frame in out[key]]
            else:
                merged[key] = np.concatenate([np.asarray(out[key]) for out in outputs])
        if all('frame_inds' in out for out in outputs):
            merged['frame_inds'] = np.concatenate(
                [np.asarray(out['frame_inds']).reshape(-1) for out in outputs])
        merged['num_clips'] = num_clips
        return merged

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(transforms={self.transforms_cfg}, '
                f'shared_keys={self.shared_keys})')


@TRANSFORMS.register_module()
class ClipGaussianBlur(BaseTransform):
    """Blur every frame of ``results['imgs']`` with one Gaussian (sigma drawn per call).

    Neither MMAction2 1.2 nor mmcv 2.1 has a video Gaussian blur; wrap it in mmcv's
    ``RandomApply`` for a probability. One sigma per call, i.e. per clip (the frames of a
    clip are blurred alike; give each clip its own call with ``ClipWiseTransforms``).

    Required / modified keys: ``imgs`` (frames (H, W[, C]), same dtype after blurring).

    Args:
        kernel_size (int): odd side of the square kernel. Defaults to 11.
        sigma_range (tuple[float, float]): sigma is drawn uniformly from it.
            Defaults to (0.1, 2.0).
    """

    def __init__(self, kernel_size: int = 11, sigma_range=(0.1, 2.0)) -> None:
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'ClipGaussianBlur: kernel_size must be a positive odd int, '
                             f'got {kernel_size!r}')
        low, high = sigma_range
        if not 0 < low <= high:
            raise ValueError(f'ClipGaussianBlur: sigma_range must satisfy 0 < low <= high, '
                             f'got {sigma_range!r}')
        self.kernel_size = kernel_size
        self.sigma_range = (float(low), float(high))

    def transform(self, results: dict) -> dict:
        if 'imgs' not in results:
            raise KeyError('ClipGaussianBlur needs decoded frames in results["imgs"]')
        sigma = float(np.random.uniform(*self.sigma_range))
        size = (self.kernel_size, self.kernel_size)
        results['imgs'] = [cv2.GaussianBlur(np.asarray(img), size, sigmaX=sigma, sigmaY=sigma)
                           for img in results['imgs']]
        results['blur_sigma'] = sigma
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(kernel_size={self.kernel_size}, '
                f'sigma_range={self.sigma_range})')
