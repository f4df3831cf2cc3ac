from .conv_gru import ConvGRU
from .dense_predictor import DensePredictor

__all__ = ['ConvGRU', 'DensePredictor']
