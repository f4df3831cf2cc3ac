# End-to-end fine-tuning of an SDC-pretrained R(2+1)D-18, 16 x 112 x 112, on UCF-101 split 1.
_base_ = ['./_base_/r2plus1d-18_16x112.py']
