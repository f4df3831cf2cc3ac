"""Pictures of what SDC learned (matplotlib, written to files; no display needed)."""
from .figures import (attention_figure, code_similarity_figure, loss_curve_figure,
                      quickstart_figures)

__all__ = ['attention_figure', 'code_similarity_figure', 'loss_curve_figure',
           'quickstart_figures']
