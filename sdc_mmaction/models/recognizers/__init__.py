from .concept_pretrain_recognizer import ConceptPretrainRecognizer
from .two_tower_concept_recognizer import TwoTowerConceptRecognizer

__all__ = ['ConceptPretrainRecognizer', 'TwoTowerConceptRecognizer']
from .dclr import DCLR  # noqa: E402,F401
