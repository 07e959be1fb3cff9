# The NYUv2 data-free student as a plain mmseg config (what an exported
# student loads into strictly): DeepLabV3 on MobileNetV2-D8 (mmseg's
# mobilenet_v2 DeepLabV3 settings, ImageNet weights), NYUv2 13 classes, no
# auxiliary head (data-free KD trains the decode head's score map only).
_base_ = ['./deeplabv3_r50-d8_4xb4-40k_nyuv2-13.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    pretrained='mmcls://mobilenet_v2',
    backbone=dict(
        _delete_=True,
        type='mmseg.MobileNetV2',
        widen_factor=1.,
        strides=(1, 2, 2, 1, 1, 1, 1),
        dilations=(1, 1, 1, 2, 2, 4, 4),
        out_indices=(1, 2, 4, 6),
        norm_cfg=norm_cfg),
    decode_head=dict(in_channels=320),
    auxiliary_head=None)
