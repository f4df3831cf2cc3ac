from .cocon import CoCon
from .concept_pretrain_recognizer import ConceptPretrainRecognizer
from .dclr import DCLR

__all__ = ['CoCon', 'ConceptPretrainRecognizer', 'DCLR']
