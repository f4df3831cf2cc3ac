"""The SDC data pipeline (and the stock MMAction2 one it is compared with), as configs.

Both functions return plain lists of transform config dicts, the same a config file
writes out by hand. The default SDC training pipeline for T-frame clips of S x S pixels::

    dict(type='CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=T + 1, frame_interval=1, num_clips=1),
    dict(type='CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, R)),                # R = round(S * 8 / 7): 128 for 112
    dict(type='StaticFrame', clip_len=T, crop_pipeline=[   # s: own crop of a clip frame
        dict(type='RandomResizedCrop'),
        dict(type='Resize', scale=(S, S), keep_ratio=False),
        dict(type='Flip', flip_ratio=0.5)]),
    dict(type='RandomResizedCrop'),                    # v and d: one crop
    dict(type='Resize', scale=(S, S), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FrameDifference'),                      # T + 1 frames -> v (T) and d (T)
    dict(type='PackConceptInputs', view_names=('clip', 'static', 'diff')),

Choices and their defaults:

- ``static_crop='independent'`` (the authors' code; see ``StaticFrame``) or ``'shared'``
  (``s`` is a frame of ``v``'s crop; ``StaticFrame`` then comes after the crops).
- ``two_clips=False``: one clip per video. ``True`` samples two clips of the same video
  (``SampleFrames(num_clips=2)``: in training, one from each half of the video) and adds
  the view ``clip2``. The second clip is the positive of a clip-to-clip contrastive term
  (the extra InfoNCE terms of the authors' recipe); SDC's own losses (Eq. 4-10) use only
  ``clip``, ``static`` and ``diff``. Both clips share the spatial crop and flip, because
  MMAction2's crops act on all of ``results['imgs']`` at once.
- ``test_mode=True``: the centre clip, ``Resize`` + ``CenterCrop``, and the centre frame
  as ``s`` (deterministic; ``s`` shares the centre crop).
- no colour augmentation (the paper uses spatio-temporal cropping only).
- short videos: ``SampleFrames`` loops them (MMAction2's ``out_of_bound_opt='loop'``);
  ``FrameDifference`` zeroes the difference across the loop seam.
"""
from typing import List, Optional, Sequence, Tuple

_STATIC_CROPS = ('independent', 'shared')


def _resize_short(img_size: int, resize_short: Optional[int]) -> int:
    return int(round(img_size * 8 / 7)) if resize_short is None else int(resize_short)


def concept_pipeline(clip_len: int = 16,
                     img_size: int = 112,
                     *,
                     frame_interval: int = 1,
                     test_mode: bool = False,
                     static_crop: str = 'independent',
                     two_clips: bool = False,
                     resize_short: Optional[int] = None,
                     area_range: Tuple[float, float] = (0.08, 1.0),
                     flip_ratio: float = 0.5,
                     view_names: Optional[Sequence[str]] = None,
                     checked_decoding: bool = True) -> List[dict]:
    """The SDC pipeline for ``VideoDataset`` / ``SafeVideoDataset`` (see module docstring).

    Args:
        clip_len (int): T, frames of ``v``, ``s`` and ``d`` (T + 1 are decoded).
        img_size (int): S, the output crop size (S x S).
        frame_interval (int): as in ``SampleFrames``.
        test_mode (bool): deterministic evaluation / feature-extraction pipeline.
        static_crop (str): ``'independent'`` or ``'shared'`` (training only).
        two_clips (bool): sample a second clip and add the view ``clip2``.
        resize_short (int, optional): short side before cropping; default ``S * 8 / 7``.
        area_range (tuple): ``RandomResizedCrop`` area range.
        flip_ratio (float): horizontal flip probability (training only).
        view_names (Sequence[str], optional): views to pack; default
            ``('clip', 'static', 'diff')`` plus ``'clip2'`` with ``two_clips``.
        checked_decoding (bool): use ``CheckedDecordInit`` / ``CheckedDecordDecode``
            (named errors, truncated-file check) instead of MMAction2's decord transforms.
    """
    if static_crop not in _STATIC_CROPS:
        raise ValueError(f'static_crop={static_crop!r} is invalid: expected one of '
                         f'{_STATIC_CROPS}')
    if view_names is None:
        view_names = ('clip', 'static', 'diff') + (('clip2', ) if two_clips else ())
    short = _resize_short(img_size, resize_short)
    decode = ('CheckedDecordInit', 'CheckedDecordDecode') if checked_decoding else (
        'DecordInit', 'DecordDecode')
    pipeline = [
        dict(type=decode[0]),
        dict(type='SampleFrames', clip_len=clip_len + 1, frame_interval=frame_interval,
             num_clips=2 if two_clips else 1, test_mode=test_mode),
        dict(type=decode[1]),
        dict(type='Resize', scale=(-1, short)),
    ]
    if test_mode:
        crops = [dict(type='CenterCrop', crop_size=img_size)]
    else:
        crops = [
            dict(type='RandomResizedCrop', area_range=tuple(area_range)),
            dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
            dict(type='Flip', flip_ratio=flip_ratio),
        ]
    if static_crop == 'independent' and not test_mode:
        pipeline.append(dict(type='StaticFrame', clip_len=clip_len,
                             crop_pipeline=[dict(c) for c in crops]))
        pipeline += crops
    else:
        pipeline += crops
        pipeline.append(dict(type='StaticFrame', clip_len=clip_len, test_mode=test_mode))
    pipeline += [
        dict(type='FrameDifference'),
        dict(type='PackConceptInputs', view_names=tuple(view_names)),
    ]
    return pipeline


def stock_pipeline(clip_len: int = 16,
                   img_size: int = 112,
                   *,
                   frame_interval: int = 1,
                   test_mode: bool = False,
                   num_clips: int = 1,
                   resize_short: Optional[int] = None,
                   area_range: Tuple[float, float] = (0.08, 1.0),
                   flip_ratio: float = 0.5) -> List[dict]:
    """MMAction2's usual ``VideoDataset`` pipeline with the same sizes (RGB clip only).

    Training: DecordInit, SampleFrames, DecordDecode, Resize, RandomResizedCrop, Resize,
    Flip, FormatShape, PackActionInputs. Test mode: Resize + CenterCrop instead of the
    random crop and flip.
    """
    short = _resize_short(img_size, resize_short)
    pipeline = [
        dict(type='DecordInit'),
        dict(type='SampleFrames', clip_len=clip_len, frame_interval=frame_interval,
             num_clips=num_clips, test_mode=test_mode),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(-1, short)),
    ]
    if test_mode:
        pipeline.append(dict(type='CenterCrop', crop_size=img_size))
    else:
        pipeline += [
            dict(type='RandomResizedCrop', area_range=tuple(area_range)),
            dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
            dict(type='Flip', flip_ratio=flip_ratio),
        ]
    pipeline += [dict(type='FormatShape', input_format='NCTHW'),
                 dict(type='PackActionInputs')]
    return pipeline


__all__ = ['concept_pipeline', 'stock_pipeline']
