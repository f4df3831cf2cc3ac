from .concept_data_preprocessor import ConceptDataPreprocessor

__all__ = ['ConceptDataPreprocessor']
