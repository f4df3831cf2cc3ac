"""FrameDifference: the frame-difference view ``d`` of SDC, without wrap-around."""
import copy
from typing import List, Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS
from ._clips import clip_layout


@TRANSFORMS.register_module()
class FrameDifference(BaseTransform):
    """Turn clips of T + 1 frames into the clip ``v`` (T frames) and its differences ``d``.

    Sample T + 1 frames per clip (``SampleFrames(clip_len=T + 1, ...)``) and put this
    transform after the spatial augmentations (``RandomResizedCrop``, ``Resize``,
    ``Flip``, ``CenterCrop``, ...), so that ``d`` is computed on exactly the crop of ``v``.
    Works after ``DecordDecode`` (``VideoDataset``), ``RawFrameDecode``
    (``RawframeDataset``) or any decoder that fills ``results['imgs']``.

    For every clip with frames ``x[0] .. x[T]`` (``x[0]`` is the extra frame):

    - ``d[t] = x[t + 1] - x[t]`` for ``t = 0 .. T - 1``, computed in float32 (never in
      uint8, which would wrap negative differences around to large positive values), in
      [-255, 255] for 8-bit input. There is no wrap-around difference between the last and
      the first frame (unlike ``x - roll(x, 1)``).
    - the clip keeps the *last* T frames, ``v[t] = x[t + 1]``, so ``d[t] = v[t] - x[t]`` is
      the change that leads into clip frame ``t`` (the frame-aligned convention of
      ``x - roll(x, 1)``, minus its wrap-around frame).

    Looped short videos: ``SampleFrames(out_of_bound_opt='loop')`` (MMAction2's default)
    repeats a video that is shorter than the clip from its start. The difference across
    such a seam (``frame_inds`` going backwards) compares the video's end with its start,
    which is no motion; with ``zero_loop_seams=True`` it is set to 0, like the zero
    differences that ``out_of_bound_opt='repeat_last'`` gives.

    Required keys:
        - imgs: ``num_clips * (T + 1)`` frames, each (H, W, C) or grayscale (H, W)
        - clip_len: T + 1
        - num_clips (optional, default 1)
        - frame_inds (optional; needed for ``zero_loop_seams``)

    Modified keys:
        - imgs: ``num_clips * T`` frames (the same arrays, not copied)
        - clip_len: T
        - frame_inds: the indices of the kept frames

    Added keys:
        - diff_imgs: float32 array (num_clips * T, H, W[, C])

    Independent crop (``crop_pipeline`` given): place the transform *before* the clip's
    spatial augmentations instead. ``d`` is then computed on its own crop of the frames,
    drawn by ``crop_pipeline`` (MMAction2 transform configs, e.g. the clip's
    ``RandomResizedCrop``, ``Resize``, ``Flip``), the same crop for all T + 1 frames; the
    clip's T frames are left uncropped for the augmentations that follow. ``v`` and ``d``
    then share the motion but not the exact positions of what moves, so a model cannot
    match a clip to its differences by where things are (the way the static frame has
    its own crop).

    Args:
        zero_loop_seams (bool): set differences across a loop seam to zero.
            Defaults to True.
        crop_pipeline (list[dict], optional): transforms giving ``d`` its own crop (see
            above). Defaults to None: ``d`` is computed on the frames as they are.
    """

    def __init__(self, zero_loop_seams: bool = True,
                 crop_pipeline: Optional[List[dict]] = None) -> None:
        self.zero_loop_seams = zero_loop_seams
        self.crop_pipeline_cfg = copy.deepcopy(crop_pipeline)
        self.crop_transforms = None
        if crop_pipeline is not None:
            self.crop_transforms = [
                TRANSFORMS.build(cfg) if isinstance(cfg, dict) else cfg for cfg in crop_pipeline
            ]

    def _crop(self, imgs: list, results: dict) -> list:
        """All frames through ``crop_pipeline`` together (one crop), on copies."""
        first = np.asarray(imgs[0])
        sub = dict(
            # copies, because MMAction2's Flip flips frames in place
            imgs=[np.array(img, copy=True) for img in imgs],
            img_shape=first.shape[:2],
            original_shape=first.shape[:2],
            modality=results.get('modality', 'RGB'),
            clip_len=results['clip_len'],
            num_clips=results.get('num_clips', 1))
        for crop in self.crop_transforms:
            sub = crop(sub)
            if sub is None:
                raise RuntimeError(f'FrameDifference: crop transform {crop!r} returned None')
        return sub['imgs']

    def transform(self, results: dict) -> dict:
        num_clips, length = clip_layout(results, 'FrameDifference')
        if length < 2:
            raise ValueError(
                f'FrameDifference needs T + 1 >= 2 frames per clip, got clip_len={length}; '
                'sample one frame more than the clip length (SampleFrames(clip_len=T + 1))')
        imgs = results['imgs']
        shapes = {np.shape(img) for img in imgs}
        if len(shapes) != 1:
            raise ValueError(f'FrameDifference: frames of different shapes {sorted(shapes)}')
        frames = np.stack(imgs if self.crop_transforms is None else self._crop(imgs, results))
        frames = frames.reshape((num_clips, length) + frames.shape[1:])
        # subtract in float32 (dtype= casts before subtracting: no uint8 wrap-around)
        diffs = np.subtract(frames[:, 1:], frames[:, :-1], dtype=np.float32)

        frame_inds = results.get('frame_inds', None)
        if frame_inds is not None:
            frame_inds = np.asarray(frame_inds).reshape(-1)
            if frame_inds.size != num_clips * length:
                frame_inds = None  # not one index per frame: leave it untouched below
        if frame_inds is not None:
            inds = frame_inds.reshape(num_clips, length)
            if self.zero_loop_seams:
                seams = inds[:, 1:] < inds[:, :-1]
                diffs[seams] = 0
            results['frame_inds'] = inds[:, 1:].reshape(-1)

        clip_len = length - 1
        results['diff_imgs'] = diffs.reshape((num_clips * clip_len, ) + diffs.shape[2:])
        results['imgs'] = [imgs[c * length + 1 + t]
                           for c in range(num_clips) for t in range(clip_len)]
        results['clip_len'] = clip_len
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(zero_loop_seams={self.zero_loop_seams}, '
                f'crop_pipeline={self.crop_pipeline_cfg})')
