from .checked_decord import CheckedDecordDecode, CheckedDecordInit
from .formatting import PackConceptInputs
from .frame_difference import FrameDifference
from .static_frame import StaticFrame

__all__ = ['CheckedDecordDecode', 'CheckedDecordInit', 'FrameDifference', 'PackConceptInputs',
           'StaticFrame']
from .clip_wise import ClipGaussianBlur, ClipWiseTransforms  # noqa: E402,F401
