"""StaticFrame: the static-frame view ``s`` of SDC (one frame of the clip, repeated)."""
import copy
from typing import List, Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS
from ._clips import clip_layout


@TRANSFORMS.register_module()
class StaticFrame(BaseTransform):
    """Pick one frame of the clip and repeat it T times: the static view ``s``.

    The frame is one of the clip's T frames (of the first clip when there are several):
    a uniformly random one in training, the centre one (index ``T // 2``) with
    ``test_mode=True``, so evaluation and feature extraction are deterministic.

    Two placements, one per crop policy:

    - **independent crop** (``crop_pipeline`` given; SDC's default training pipeline):
      place it *before* the clip's spatial augmentations. The chosen (uncropped) frame
      gets its own crop from ``crop_pipeline``, a list of MMAction2 transforms configs
      (e.g. ``RandomResizedCrop``, ``Resize``, ``Flip``) run on that one frame only; the
      clip's own augmentations later act on ``results['imgs']`` as usual. This is what the
      authors' code does: ``s`` then shows the scene from another viewpoint than ``v``, so
      matching the static concepts of ``s`` and ``v`` cannot be solved by matching
      identical pixels (SDC's paper does not say; we follow the code).
    - **shared crop** (``crop_pipeline=None``): place it *after* the clip's spatial
      augmentations; ``s`` is then a copy of one cropped clip frame. Use it at test time
      (a centre crop is the same for both anyway) or to ablate the crop policy.

    Either placement works before or after ``FrameDifference``: the clip is always the
    last ``clip_len`` frames of each group of ``results['clip_len']`` frames (before
    ``FrameDifference`` the group has one extra leading frame, which is never chosen).

    Required keys:
        - imgs, clip_len, num_clips (optional), frame_inds (optional)
        - img_shape, modality (only with ``crop_pipeline``; MMAction2's transforms use them)

    Added keys:
        - static_imgs: read-only array (T, H, W[, C]) of the chosen frame (a broadcast
          view), same dtype as the frames
        - static_frame_ind: the chosen frame's index in the video (``frame_inds``), or its
          position in the clip where ``frame_inds`` is absent
        - static_frame_position: the chosen frame's position in the clip (0 .. T - 1).
          When ``results`` already holds it, that position is used instead of a new
          draw (``ClipWiseTransforms(shared_keys=...)`` gives the clips of a video one
          position this way).

    Args:
        clip_len (int): T, the number of repetitions = the clip's length after
            ``FrameDifference`` (the ``clip_len`` of ``SampleFrames`` minus one).
        crop_pipeline (list[dict], optional): transforms applied to the chosen frame
            alone (independent crop). Defaults to None (shared crop).
        test_mode (bool): choose the centre frame instead of a random one.
            Defaults to False.
    """

    def __init__(self,
                 clip_len: int,
                 crop_pipeline: Optional[List[dict]] = None,
                 test_mode: bool = False) -> None:
        if not isinstance(clip_len, int) or clip_len < 1:
            raise ValueError(f'StaticFrame: clip_len must be a positive int, got {clip_len!r}')
        self.clip_len = clip_len
        self.test_mode = test_mode
        self.crop_pipeline_cfg = copy.deepcopy(crop_pipeline)
        self.crop_transforms = None
        if crop_pipeline is not None:
            self.crop_transforms = [
                TRANSFORMS.build(cfg) if isinstance(cfg, dict) else cfg for cfg in crop_pipeline
            ]

    def _choose(self) -> int:
        """Position of the static frame inside the clip (0 .. T - 1)."""
        if self.test_mode:
            return self.clip_len // 2
        return int(np.random.randint(self.clip_len))

    def _crop(self, frame: np.ndarray, results: dict) -> np.ndarray:
        sub = dict(
            imgs=[frame],
            img_shape=frame.shape[:2],
            original_shape=frame.shape[:2],
            modality=results.get('modality', 'RGB'),
            clip_len=1,
            num_clips=1)
        for crop in self.crop_transforms:
            sub = crop(sub)
            if sub is None:
                raise RuntimeError(f'StaticFrame: crop transform {crop!r} returned None')
        return sub['imgs'][0]

    def transform(self, results: dict) -> dict:
        _, length = clip_layout(results, 'StaticFrame')
        if length < self.clip_len:
            raise ValueError(
                f'StaticFrame(clip_len={self.clip_len}) needs clips of at least that many '
                f'frames, but results["clip_len"] is {length}')
        position = results.get('static_frame_position', None)
        if position is None:
            position = self._choose()
        elif not 0 <= int(position) < self.clip_len:
            raise ValueError(f'StaticFrame: results["static_frame_position"]={position} is '
                             f'outside the clip (0 .. {self.clip_len - 1})')
        position = int(position)
        results['static_frame_position'] = position
        index = length - self.clip_len + position  # inside the first clip's frame group
        # a copy, because MMAction2's Flip flips frames in place
        frame = np.array(results['imgs'][index], copy=True)
        if self.crop_transforms is not None:
            frame = self._crop(frame, results)
        # a read-only view, T times the same frame: no copy until PackConceptInputs, and
        # nothing can modify one repetition in place
        results['static_imgs'] = np.broadcast_to(frame, (self.clip_len, ) + frame.shape)
        frame_inds = results.get('frame_inds', None)
        if frame_inds is not None and np.size(frame_inds) > index:
            results['static_frame_ind'] = int(np.asarray(frame_inds).reshape(-1)[index])
        else:
            results['static_frame_ind'] = position
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(clip_len={self.clip_len}, '
                f'crop_pipeline={self.crop_pipeline_cfg}, test_mode={self.test_mode})')
