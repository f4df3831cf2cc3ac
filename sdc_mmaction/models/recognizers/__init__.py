from .concept_pretrain_recognizer import ConceptPretrainRecognizer

__all__ = ['ConceptPretrainRecognizer']
