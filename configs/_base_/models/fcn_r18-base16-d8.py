# The student-sized segmentor: FCN (Long et al., CVPR 2015) on the teacher's
# dilated ResNet-18 (V1c) at a quarter of the width (16 base channels).
_base_ = './pspnet_r18-d8.py'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    backbone=dict(stem_channels=16, base_channels=16),
    decode_head=dict(
        _delete_=True,
        type='mmseg.FCNHead',
        in_channels=128,
        in_index=3,
        channels=64,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=11,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='mmseg.CrossEntropyLoss', use_sigmoid=False,
            loss_weight=1.0)))
