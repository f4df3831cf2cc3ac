"""PackConceptInputs: pack SDC's views into one tensor and an ``ActionDataSample``."""
from typing import Dict, Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS
from mmaction.structures import ActionDataSample

#: view name -> (results key, clip index inside that key)
VIEW_SOURCES: Dict[str, Tuple[str, int]] = {
    'clip': ('imgs', 0),
    'static': ('static_imgs', 0),
    'diff': ('diff_imgs', 0),
    'clip2': ('imgs', 1),
    'diff2': ('diff_imgs', 1),
    'static2': ('static_imgs', 1),
}


@TRANSFORMS.register_module()
class PackConceptInputs(BaseTransform):
    """Pack the SDC views into ``inputs`` (V, C, T, H, W) float32 and a data sample.

    Follows ``PackActionInputs``: the result is ``dict(inputs=..., data_samples=...)``,
    ``data_samples`` is an ``ActionDataSample`` with ``gt_label`` set from
    ``results['label']`` (analyses only; SDC's losses do not use labels) and the metainfo
    ``meta_keys`` found in ``results`` plus ``view_names``. Put it last, *instead of*
    ``FormatShape`` + ``PackActionInputs`` (it does the THWC -> CTHW formatting itself).

    Views and where they come from:

    ============  ==========================================  ======================
    name          content                                     results key, clip
    ============  ==========================================  ======================
    ``clip``      v: the RGB clip, values 0..255              ``imgs``, clip 0
    ``static``    s: one frame repeated T times, 0..255       ``static_imgs``
    ``diff``      d: x[t+1] - x[t], -255..255                 ``diff_imgs``, clip 0
    ``clip2``     the second clip (``SampleFrames(num_clips=2)``)  ``imgs``, clip 1
    ``diff2``     the second clip's differences               ``diff_imgs``, clip 1
    ``static2``   the second clip's static frame              ``static_imgs``, clip 1
                  (``ClipWiseTransforms``)
    ============  ==========================================  ======================

    Every view must have the same (T, H, W, C); grayscale frames (H, W) give C = 1.

    Args:
        view_names (Sequence[str]): the views, in the order of the V axis.
            Defaults to ``('clip', 'static', 'diff')``.
        meta_keys (Sequence[str]): keys of ``results`` copied to the metainfo (when
            present). Defaults to PackActionInputs' keys plus ``filename``, ``frame_dir``
            and ``static_frame_ind``.
        algorithm_keys (Sequence[str]): keys of ``results`` set as data fields of the
            sample (when present), as in ``PackActionInputs``. Defaults to ().
    """

    def __init__(self,
                 view_names: Sequence[str] = ('clip', 'static', 'diff'),
                 meta_keys: Sequence[str] = ('img_shape', 'img_key', 'video_id', 'timestamp',
                                             'filename', 'frame_dir', 'static_frame_ind'),
                 algorithm_keys: Sequence[str] = ()) -> None:
        view_names = tuple(view_names)
        if not view_names:
            raise ValueError('PackConceptInputs: view_names is empty')
        unknown = [name for name in view_names if name not in VIEW_SOURCES]
        if unknown:
            raise ValueError(f'PackConceptInputs: unknown view names {unknown}; '
                             f'known: {sorted(VIEW_SOURCES)}')
        if len(set(view_names)) != len(view_names):
            raise ValueError(f'PackConceptInputs: repeated view names in {view_names}')
        self.view_names = view_names
        self.meta_keys = tuple(meta_keys)
        self.algorithm_keys = tuple(algorithm_keys)

    def _view_frames(self, results: dict, name: str, clip_len: int):
        key, clip = VIEW_SOURCES[name]
        if key not in results:
            producer = dict(static_imgs='StaticFrame', diff_imgs='FrameDifference').get(
                key, 'the decoder')
            raise KeyError(f'PackConceptInputs: view {name!r} needs results[{key!r}], which '
                           f'{producer} writes; add it to the pipeline')
        frames = results[key]
        if key == 'static_imgs' and len(frames) % clip_len:
            raise ValueError(f'PackConceptInputs: static_imgs has {len(frames)} frames '
                             f'but the clip has {clip_len}; StaticFrame(clip_len=...) '
                             'must equal the clip length')
        num_clips = len(frames) // clip_len
        if len(frames) % clip_len or clip >= num_clips:
            raise ValueError(
                f'PackConceptInputs: view {name!r} needs clip {clip} of results[{key!r}], '
                f'which holds {len(frames)} frames for clip_len={clip_len}'
                + (' (sample two clips: SampleFrames(num_clips=2))' if clip else ''))
        return frames[clip * clip_len:(clip + 1) * clip_len]

    def transform(self, results: dict) -> dict:
        if 'input_shape' in results:
            raise ValueError('PackConceptInputs formats the views itself: remove FormatShape '
                             'from the pipeline')
        clip_len = results.get('clip_len', None)
        if clip_len is None:
            raise KeyError('PackConceptInputs needs results["clip_len"] (SampleFrames)')
        clip_len = int(clip_len)

        views = []
        for name in self.view_names:
            frames = self._view_frames(results, name, clip_len)
            shapes = {np.shape(f) for f in frames}
            if len(shapes) != 1:
                raise ValueError(f'PackConceptInputs: view {name!r} has frames of different '
                                 f'shapes {sorted(shapes)}')
            views.append((name, frames, shapes.pop()))
        frame_shapes = {name: shape for name, _, shape in views}
        if len(set(frame_shapes.values())) != 1:
            raise ValueError('PackConceptInputs: views have different frame shapes '
                             f'{frame_shapes}; every view needs the same crop size')
        frame_shape = views[0][2]
        if len(frame_shape) == 2:
            height, width, channels = frame_shape[0], frame_shape[1], 1
        elif len(frame_shape) == 3:
            height, width, channels = frame_shape
        else:
            raise ValueError(f'PackConceptInputs: frames must be (H, W) or (H, W, C), got '
                             f'{frame_shape}')

        inputs = np.empty((len(views), channels, clip_len, height, width), dtype=np.float32)
        for v, (_, frames, _) in enumerate(views):
            # one converting copy per view, straight into place (THWC -> CTHW)
            if isinstance(frames, np.ndarray):
                array = frames if frames.ndim == 4 else frames[..., None]
                inputs[v] = array.transpose(3, 0, 1, 2)
            else:
                for t, frame in enumerate(frames):
                    frame = frame if frame.ndim == 3 else frame[..., None]
                    inputs[v, :, t] = frame.transpose(2, 0, 1)

        data_sample = ActionDataSample()
        if 'label' in results:
            data_sample.set_gt_label(results['label'])
        for key in self.algorithm_keys:
            if key in results:
                data_sample.set_field(results[key], key)
        metainfo = {k: results[k] for k in self.meta_keys if k in results}
        metainfo['view_names'] = self.view_names
        data_sample.set_metainfo(metainfo)
        return dict(inputs=torch.from_numpy(inputs), data_samples=data_sample)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(view_names={self.view_names}, '
                f'meta_keys={self.meta_keys})')
