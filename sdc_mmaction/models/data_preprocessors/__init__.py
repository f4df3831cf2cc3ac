from .concept_data_preprocessor import ConceptDataPreprocessor

__all__ = ['ConceptDataPreprocessor']
from .multi_view_data_preprocessor import MultiViewDataPreprocessor  # noqa: E402

__all__ += ['MultiViewDataPreprocessor']
