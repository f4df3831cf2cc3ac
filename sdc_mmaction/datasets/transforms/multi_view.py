"""Views of one clip with their own modality and augmentation, for multi-view methods
(CoCon): every view sees the same sampled frame indices, each through its own pipeline."""
import copy
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS
from mmaction.structures import ActionDataSample


@TRANSFORMS.register_module()
class MultiViewPipeline(BaseTransform):
    """Run one sub-pipeline per view on copies of the same sample, after ``SampleFrames``.

    Each view's transforms (MMAction2 transform configs) run on a copy of ``results``
    with the view's own ``modality`` and ``filename_tmpl`` when given, so e.g. an RGB view
    decodes ``img_*.jpg`` and a flow view ``flow_{x,y}_*.jpg`` of the same ``frame_inds``
    with ``RawFrameDecode``. Random transforms draw their parameters independently per
    view, so crops differ between views but are the same for all frames of a view. Frames
    decoded before this transform (e.g. by ``DecordDecode``) are copied per view, since
    some transforms (``Flip``) change frames in place.

    Example::

        dict(type='MultiViewPipeline', views=dict(
            rgb=dict(transforms=[dict(type='RawFrameDecode'), ...]),
            flow=dict(modality='Flow', filename_tmpl='flow_{}_{:05d}.jpg',
                      transforms=[dict(type='RawFrameDecode'), ...])))

    Required keys: whatever the sub-pipelines need (``frame_inds``, ``frame_dir``, ...).

    Added keys:
        - ``<view>_imgs``: the view's frames (list of (H, W, C) arrays), for each view
        - ``<view>_clip_len``: the view's frames per clip (a view may change it, e.g.
          ``FrameDifference`` turns T + 1 frames into T)

    Args:
        views (dict): view name -> ``dict(transforms=[...], modality=None,
            filename_tmpl=None, output_key='imgs')``; ``output_key`` is the results key
            holding the view's frames after its transforms (``'diff_imgs'`` for
            ``FrameDifference``). Views are processed in insertion order.
    """

    def __init__(self, views: Dict[str, dict]) -> None:
        if not isinstance(views, dict) or not views:
            raise ValueError('MultiViewPipeline: views must be a non-empty dict of '
                             f'name -> dict(transforms=[...]), got {views!r}')
        self.views_cfg = copy.deepcopy(views)
        self.views = {}
        for name, cfg in views.items():
            unknown = set(cfg) - {'transforms', 'modality', 'filename_tmpl', 'output_key'}
            if unknown or 'transforms' not in cfg:
                raise ValueError(f'MultiViewPipeline: view {name!r} needs "transforms" and '
                                 'may set modality, filename_tmpl, output_key; got keys '
                                 f'{sorted(cfg)}')
            transforms = [TRANSFORMS.build(t) if isinstance(t, dict) else t
                          for t in cfg['transforms']]
            self.views[name] = (transforms, cfg.get('modality'), cfg.get('filename_tmpl'),
                                cfg.get('output_key', 'imgs'))

    def transform(self, results: dict) -> dict:
        outputs = {}
        for name, (transforms, modality, filename_tmpl, output_key) in self.views.items():
            sub = dict(results)
            for key, value in results.items():
                if isinstance(value, np.ndarray):
                    sub[key] = value.copy()
            if 'imgs' in results:
                sub['imgs'] = [np.array(img, copy=True) for img in results['imgs']]
            if modality is not None:
                sub['modality'] = modality
            if filename_tmpl is not None:
                sub['filename_tmpl'] = filename_tmpl
            for t in transforms:
                sub = t(sub)
                if sub is None:
                    raise RuntimeError(f'MultiViewPipeline: transform {t!r} of view {name!r} '
                                       'returned None')
            if output_key not in sub:
                raise KeyError(f'MultiViewPipeline: view {name!r} has no results['
                               f'{output_key!r}] after its transforms; set output_key')
            outputs[name] = (sub[output_key], sub.get('clip_len', results.get('clip_len')))
        for name, (frames, clip_len) in outputs.items():
            results[f'{name}_imgs'] = frames
            results[f'{name}_clip_len'] = clip_len
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(views={self.views_cfg})'


@TRANSFORMS.register_module()
class PackMultiViewInputs(BaseTransform):
    """Pack the views of :class:`MultiViewPipeline` as blocks: ``inputs`` is a dict of
    view name -> float32 tensor ``(num_blocks, C, block_len, H, W)``.

    A view's ``num_blocks * block_len`` frames (``SampleFrames(clip_len=num_blocks *
    block_len)``, one clip) are cut, in order, into ``num_blocks`` consecutive blocks.
    Views may differ in channels and frame size. The ``ActionDataSample`` carries the
    label (when present), ``view_names`` and the ``meta_keys`` found in ``results``.

    Args:
        view_names (Sequence[str]): views to pack, in this order.
        num_blocks (int): blocks per clip.
        meta_keys (Sequence[str]): keys copied to the metainfo when present.
    """

    def __init__(self, view_names: Sequence[str], num_blocks: int,
                 meta_keys: Sequence[str] = ('frame_dir', 'filename', 'frame_inds',
                                             'total_frames')) -> None:
        self.view_names = tuple(view_names)
        if not self.view_names or len(set(self.view_names)) != len(self.view_names):
            raise ValueError(f'PackMultiViewInputs: view_names must be non-empty and distinct, '
                             f'got {view_names!r}')
        if num_blocks < 1:
            raise ValueError(f'PackMultiViewInputs: num_blocks must be >= 1, got {num_blocks}')
        self.num_blocks = num_blocks
        self.meta_keys = tuple(meta_keys)

    def _pack(self, name: str, frames) -> torch.Tensor:
        if not len(frames) or len(frames) % self.num_blocks:
            raise ValueError(f'PackMultiViewInputs: view {name!r} has {len(frames)} frames, '
                             f'not a positive multiple of num_blocks={self.num_blocks}; '
                             'sample num_blocks * block_len frames in one clip')
        shapes = {np.shape(f) for f in frames}
        if len(shapes) != 1:
            raise ValueError(f'PackMultiViewInputs: view {name!r} has frames of different '
                             f'shapes {sorted(shapes)}')
        array = np.stack(frames).astype(np.float32, copy=False)
        if array.ndim == 3:
            array = array[..., None]
        block_len = len(frames) // self.num_blocks
        array = array.reshape((self.num_blocks, block_len) + array.shape[1:])
        return torch.from_numpy(np.ascontiguousarray(array.transpose(0, 4, 1, 2, 3)))

    def transform(self, results: dict) -> dict:
        inputs = {}
        for name in self.view_names:
            key = f'{name}_imgs'
            if key not in results:
                raise KeyError(f'PackMultiViewInputs: no results[{key!r}]; add view {name!r} '
                               'to MultiViewPipeline')
            inputs[name] = self._pack(name, results[key])
        data_sample = ActionDataSample()
        if 'label' in results:
            data_sample.set_gt_label(results['label'])
        metainfo = {k: results[k] for k in self.meta_keys if k in results}
        metainfo['view_names'] = self.view_names
        data_sample.set_metainfo(metainfo)
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(view_names={self.view_names}, '
                f'num_blocks={self.num_blocks})')


@TRANSFORMS.register_module()
class SplitBlocks(BaseTransform):
    """Cut every formatted clip into ``num_blocks`` consecutive blocks, so that a
    ``Recognizer3D`` feeds each block to the backbone on its own (DPC / CoCon
    fine-tuning, with ``BlockGRUHead``).

    Put it after ``FormatShape(input_format='NCTHW')``: ``imgs`` (M, C, T, H, W) becomes
    (M * num_blocks, C, T / num_blocks, H, W), clip m's blocks in order.

    Args:
        num_blocks (int): blocks per clip; must divide T.
    """

    def __init__(self, num_blocks: int) -> None:
        if num_blocks < 1:
            raise ValueError(f'SplitBlocks: num_blocks must be >= 1, got {num_blocks}')
        self.num_blocks = num_blocks

    def transform(self, results: dict) -> dict:
        imgs = results['imgs']
        if getattr(imgs, 'ndim', 0) != 5:
            raise ValueError('SplitBlocks needs imgs formatted as (M, C, T, H, W) by '
                             "FormatShape(input_format='NCTHW'), got shape "
                             f'{getattr(imgs, "shape", None)}')
        clips, channels, length, height, width = imgs.shape
        if length % self.num_blocks:
            raise ValueError(f'SplitBlocks: clip length {length} is not a multiple of '
                             f'num_blocks={self.num_blocks}')
        block_len = length // self.num_blocks
        blocks = imgs.reshape(clips, channels, self.num_blocks, block_len, height, width)
        results['imgs'] = np.ascontiguousarray(
            blocks.transpose(0, 2, 1, 3, 4, 5)).reshape(
                clips * self.num_blocks, channels, block_len, height, width)
        results['input_shape'] = results['imgs'].shape
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(num_blocks={self.num_blocks})'


@TRANSFORMS.register_module()
class MotionCrop(BaseTransform):
    """Random crop that favours motion: draw ``num_candidates`` random square-or-given
    crops and keep the one whose frames have the largest mean flow magnitude, the same
    crop for every frame (CoCon's crop of its flow view).

    Works on quantised flow frames ``(H, W, 2)`` uint8 (``RawFrameDecode`` in ``Flow``
    modality), where ``zero`` (127.5 for :mod:`sdc_mmaction.apis.optical_flow`'s JPEGs)
    is no motion; the magnitude scored is ``|x - zero|`` summed over both channels.

    Required keys: imgs. Modified keys: imgs, img_shape. Added keys: crop_bbox.

    Args:
        size (int | tuple[int, int]): crop (height, width); an int gives a square.
        num_candidates (int): random crops compared. Defaults to 3.
        zero (float): the value that means no motion. Defaults to 127.5.
    """

    def __init__(self, size, num_candidates: int = 3, zero: float = 127.5) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        if len(self.size) != 2 or min(self.size) < 1:
            raise ValueError(f'MotionCrop: size must be a positive int or (h, w), got {size}')
        if num_candidates < 1:
            raise ValueError(f'MotionCrop: num_candidates must be >= 1, got {num_candidates}')
        self.num_candidates = num_candidates
        self.zero = zero

    def transform(self, results: dict) -> dict:
        imgs = results['imgs']
        height, width = np.shape(imgs[0])[:2]
        crop_h, crop_w = self.size
        if crop_h > height or crop_w > width:
            raise ValueError(f'MotionCrop: crop {self.size} is larger than the frames '
                             f'({height}, {width}) of {results.get("frame_dir", "the clip")}')
        # one motion map for the clip, then the mean over each candidate window
        motion = np.zeros((height, width), dtype=np.float64)
        for img in imgs:
            motion += np.abs(np.asarray(img, dtype=np.float32) - self.zero).reshape(
                height, width, -1).sum(axis=2)
        best, best_score = None, -1.0
        for _ in range(self.num_candidates):
            y = np.random.randint(0, height - crop_h + 1)
            x = np.random.randint(0, width - crop_w + 1)
            score = motion[y:y + crop_h, x:x + crop_w].mean()
            if score > best_score:
                best, best_score = (y, x), score
        y, x = best
        results['imgs'] = [img[y:y + crop_h, x:x + crop_w] for img in imgs]
        results['img_shape'] = (crop_h, crop_w)
        results['crop_bbox'] = np.array([x, y, x + crop_w, y + crop_h])
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'num_candidates={self.num_candidates}, zero={self.zero})')
