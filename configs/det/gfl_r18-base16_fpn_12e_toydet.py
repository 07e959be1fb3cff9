# Student-sized GFL (R-18 at quarter width) on the embedded detection set,
# trained with scale jitter, random crops and flips (the teacher's own config
# trains without them).
_base_ = [
    '../_base_/models/gfl_r18-base16_fpn.py',
    '../_base_/datasets/toy_det_aug.py',
    '../_base_/schedules/schedule_det_12e.py', '../_base_/default_runtime.py'
]
default_hooks = dict(checkpoint=dict(save_best='coco/bbox_mAP', rule='greater'))
