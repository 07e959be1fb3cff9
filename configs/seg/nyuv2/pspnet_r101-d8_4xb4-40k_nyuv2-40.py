# The NYUv2 teacher: PSPNet R-101-D8 (ImageNet R-101 V1c), 40 classes.
_base_ = ['./pspnet_r18-d8_4xb4-40k_nyuv2-40.py']
model = dict(
    pretrained='open-mmlab://resnet101_v1c',
    backbone=dict(depth=101),
    decode_head=dict(in_channels=2048, channels=512),
    auxiliary_head=dict(in_channels=1024, channels=256))
