"""How the SDC transforms read MMAction2's frame list: ``num_clips`` clips of ``clip_len``."""
import operator
from typing import Tuple


def clip_layout(results: dict, transform: str) -> Tuple[int, int]:
    """Return ``(num_clips, clip_len)`` of ``results['imgs']``, checked against its length.

    ``SampleFrames`` writes both keys; ``results['imgs']`` then holds ``num_clips``
    consecutive clips of ``clip_len`` frames each (one crop: multi-crop transforms such as
    ``ThreeCrop`` must come after the SDC transforms).
    """
    if 'imgs' not in results:
        raise KeyError(f'{transform} needs decoded frames in results["imgs"]; put it after '
                       'the decoding transform (e.g. DecordDecode or RawFrameDecode)')
    num_frames = len(results['imgs'])
    clip_len = results.get('clip_len', None)
    if clip_len is None:
        raise KeyError(f'{transform} needs results["clip_len"] (written by SampleFrames)')
    try:
        clip_len = operator.index(clip_len)  # ints and numpy ints, not floats or dicts
    except TypeError:
        clip_len = None
    if clip_len is None or clip_len < 1:
        raise ValueError(f'{transform}: results["clip_len"] must be a positive int, '
                         f'got {results["clip_len"]!r}')
    num_clips = int(results.get('num_clips', 1))
    if num_frames != num_clips * clip_len:
        raise ValueError(
            f'{transform}: results["imgs"] has {num_frames} frames but num_clips * clip_len '
            f'= {num_clips} * {clip_len}; multi-crop transforms must come after it')
    return num_clips, clip_len
