from .checked_decord import CheckedDecordDecode, CheckedDecordInit
from .formatting import PackConceptInputs
from .frame_difference import FrameDifference
from .static_frame import StaticFrame

__all__ = ['CheckedDecordDecode', 'CheckedDecordInit', 'FrameDifference', 'PackConceptInputs',
           'StaticFrame']
from .multi_view import (MotionCrop, MultiViewPipeline, PackMultiViewInputs,  # noqa: E402
                         SplitBlocks)

__all__ += ['MotionCrop', 'MultiViewPipeline', 'PackMultiViewInputs', 'SplitBlocks']
