from .alignment_variants import label_target_loss, teacher_alignment_loss
from .code_regression import code_regression_loss
from .label_target_align_head import LabelTargetAlignHead
from .teacher_concept_align_head import TeacherConceptAlignHead
from .teacher_concept_recognizer import TeacherConceptRecognizer
from .two_tower_concept_recognizer import TwoTowerConceptRecognizer

__all__ = ['LabelTargetAlignHead', 'TeacherConceptAlignHead', 'TeacherConceptRecognizer',
           'TwoTowerConceptRecognizer', 'code_regression_loss', 'label_target_loss',
           'teacher_alignment_loss']
