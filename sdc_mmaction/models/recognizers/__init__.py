from .concept_pretrain_recognizer import ConceptPretrainRecognizer
from .two_tower_concept_recognizer import TwoTowerConceptRecognizer

__all__ = ['ConceptPretrainRecognizer', 'TwoTowerConceptRecognizer']
from .cocon import CoCon  # noqa: E402

__all__ += ['CoCon']
