# End-to-end fine-tuning of an SDC-pretrained S3D, 32 x 128 x 128, on UCF-101 split 1.
_base_ = ['./_base_/s3d_32x128.py']
