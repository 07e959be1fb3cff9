# The two-stage student on the embedded detection set: Faster R-CNN on
# ResNet-18 at a quarter of the width (64-channel FPN, 128-d box head),
# trained with the students' augmentation.
_base_ = [
    '../_base_/models/faster-rcnn_r18_fpn.py',
    '../_base_/datasets/toy_det_aug.py',
    '../_base_/schedules/schedule_det_12e.py', '../_base_/default_runtime.py'
]
model = dict(
    backbone=dict(base_channels=16),
    neck=dict(in_channels=[32, 64, 128], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=128)))
default_hooks = dict(checkpoint=dict(save_best='coco/bbox_mAP', rule='greater'))
