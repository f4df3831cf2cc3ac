"""Cheap checks that a video file is whole, and the error that names a bad one.

Why a structural check before decoding: decord 0.6.0 reports truncated or damaged files
in unhelpful ways. A truncated MP4 whose index comes first opens fine and only fails
when a missing frame is decoded; a truncated AVI read from memory (as MMAction2's
``DecordInit`` does) crashes the whole process with a segmentation fault, and read from
its path it silently yields fewer frames. Both containers state their own length, so a
few header reads tell a truncated file before the decoder sees it:

- MP4 / MOV (ISO base media): the top-level boxes must tile the file exactly, and a
  ``moov`` box (the index) must exist;
- AVI (RIFF): the RIFF size in the header must not exceed the file size.

Other containers get only the existence and empty-file checks.
"""
import os.path as osp
import struct
from typing import Optional

_ISO_BOX_TYPES = {b'ftyp', b'moov', b'mdat', b'free', b'skip', b'wide', b'uuid', b'pdin',
                  b'moof', b'mfra', b'meta', b'styp', b'sidx', b'pnot', b'junk'}


class VideoReadError(RuntimeError):
    """A video file that is missing, empty, truncated or cannot be decoded.

    Attributes:
        filename (str): the file.
        reason (str): what is wrong with it.
    """

    def __init__(self, filename: str, reason: str) -> None:
        self.filename = filename
        self.reason = reason
        super().__init__(f'cannot read video {filename!r}: {reason}')

    def __reduce__(self):  # so that the error survives DataLoader worker pickling
        return (self.__class__, (self.filename, self.reason))


def _shorten(message: str, limit: int = 300) -> str:
    # decord puts the whole in-memory file into some messages
    message = ' '.join(str(message).split())
    return message if len(message) <= limit else message[:limit] + ' ...'


def describe_error(err: BaseException) -> str:
    """One line for ``err``: its type and a shortened message."""
    return f'{type(err).__name__}: {_shorten(err)}'


def _check_iso_boxes(handle, size: int) -> Optional[str]:
    position, seen_moov = 0, False
    while position < size:
        handle.seek(position)
        header = handle.read(8)
        if len(header) < 8:
            return (f'truncated: {size - position} stray bytes after the last box at '
                    f'offset {position}')
        box_size, box_type = struct.unpack('>I4s', header)
        header_size = 8
        if box_size == 1:
            large = handle.read(8)
            if len(large) < 8:
                return f'truncated inside the header of box {box_type!r}'
            box_size = struct.unpack('>Q', large)[0]
            header_size = 16
        elif box_size == 0:  # the box runs to the end of the file
            box_size = size - position
        if box_size < header_size:
            return f'corrupt: box {box_type!r} at offset {position} has size {box_size}'
        seen_moov = seen_moov or box_type == b'moov'
        if position + box_size > size:
            return (f'truncated: box {box_type!r} at offset {position} needs '
                    f'{box_size} bytes but the file ends after {size - position}')
        position += box_size
    if not seen_moov:
        return 'no moov box (the MP4 index is missing; the file is probably truncated)'
    return None


def check_video_file(filename: str) -> None:
    """Raise :class:`VideoReadError` when ``filename`` is missing, empty or truncated.

    Only local files are checked; the check reads a few header bytes per top-level box.
    """
    if not osp.exists(filename):
        raise VideoReadError(filename, 'no such file')
    if not osp.isfile(filename):
        raise VideoReadError(filename, 'not a regular file')
    size = osp.getsize(filename)
    if size == 0:
        raise VideoReadError(filename, 'the file is empty (0 bytes)')
    try:
        with open(filename, 'rb') as handle:
            head = handle.read(12)
            problem = None
            if len(head) >= 8 and head[4:8] in _ISO_BOX_TYPES:
                problem = _check_iso_boxes(handle, size)
            elif len(head) >= 12 and head[:4] == b'RIFF' and head[8:12] == b'AVI ':
                declared = struct.unpack('<I', head[4:8])[0] + 8
                if declared > size:
                    problem = (f'truncated: the AVI header declares {declared} bytes but '
                               f'the file has {size}')
    except OSError as err:
        raise VideoReadError(filename, describe_error(err)) from err
    if problem is not None:
        raise VideoReadError(filename, problem)


def is_local_path(filename: str) -> bool:
    """Whether ``filename`` names a local file (no ``scheme://`` prefix)."""
    return '://' not in str(filename) and not str(filename).startswith('s3:')


__all__ = ['VideoReadError', 'check_video_file', 'describe_error', 'is_local_path']
