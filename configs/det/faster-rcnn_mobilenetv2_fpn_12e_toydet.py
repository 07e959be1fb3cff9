# A two-stage teacher on the embedded detection set: Faster R-CNN on an
# ImageNet MobileNetV2 (`make data` converts the weights).
_base_ = [
    '../_base_/models/faster-rcnn_r18_fpn.py', '../_base_/datasets/toy_det.py',
    '../_base_/schedules/schedule_det_12e.py', '../_base_/default_runtime.py'
]
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
    neck=dict(in_channels=[32, 96, 320]))
default_hooks = dict(checkpoint=dict(save_best='coco/bbox_mAP', rule='greater'))
