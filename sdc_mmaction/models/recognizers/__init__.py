from .concept_pretrain_recognizer import ConceptPretrainRecognizer
from .dclr import DCLR

__all__ = ['ConceptPretrainRecognizer', 'DCLR']
