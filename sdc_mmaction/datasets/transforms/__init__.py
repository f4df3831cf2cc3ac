from .checked_decord import CheckedDecordDecode, CheckedDecordInit
from .formatting import PackConceptInputs
from .frame_difference import FrameDifference
from .static_frame import StaticFrame

__all__ = ['CheckedDecordDecode', 'CheckedDecordInit', 'FrameDifference', 'PackConceptInputs',
           'StaticFrame']
