from .concept_data_preprocessor import ConceptDataPreprocessor, derive_clip_views

__all__ = ['ConceptDataPreprocessor', 'derive_clip_views']
from .multi_view_data_preprocessor import MultiViewDataPreprocessor  # noqa: E402

__all__ += ['MultiViewDataPreprocessor']
