# The detection teacher: GFL with an ImageNet MobileNetV2 on the embedded
# detection set.
_base_ = [
    '../_base_/models/gfl_mobilenetv2_fpn.py', '../_base_/datasets/toy_det.py',
    '../_base_/schedules/schedule_det_12e.py', '../_base_/default_runtime.py'
]
default_hooks = dict(checkpoint=dict(save_best='coco/bbox_mAP', rule='greater'))
