# The NYUv2 student: PSPNet R-18-D8 (ImageNet R-18 V1c, as mmseg's
# pspnet_r18-d8 configs), 40 classes, 40k iterations, 480x480 crops.
_base_ = [
    'mmseg::_base_/models/pspnet_r50-d8.py',
    '../../_base_/datasets/nyuv2-40_480x480.py',
    'mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_40k.py'
]
default_scope = 'kdtools'
model = dict(
    data_preprocessor=dict(size=(480, 480)),
    pretrained='open-mmlab://resnet18_v1c',
    backbone=dict(depth=18),
    decode_head=dict(in_channels=512, channels=128, num_classes=40),
    auxiliary_head=dict(in_channels=256, channels=64, num_classes=40))
