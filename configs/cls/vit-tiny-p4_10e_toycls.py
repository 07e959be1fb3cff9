# Student-sized ViT (4 layers, 96-d, patch 4) on the embedded classification
# set.
_base_ = [
    '../_base_/models/vit-tiny-p4_32px.py', '../_base_/datasets/toy_cls.py',
    '../_base_/schedules/schedule_cls_10e.py', '../_base_/default_runtime.py'
]
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
