from . import (backbones, data_preprocessors, heads, losses, necks,  # noqa: F401
               recognizers)
