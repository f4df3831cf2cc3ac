from .s3d import S3D

__all__ = ['S3D']
from .resnet2d3d import ResNet2d3d  # noqa: E402

__all__ += ['ResNet2d3d']
