# Teacher-sized ViT (6 layers, 192-d, patch 4) on the embedded classification
# set: the second, transformer teacher of the two-teacher DeiT runs.
_base_ = [
    '../_base_/models/vit-small-p4_32px.py', '../_base_/datasets/toy_cls.py',
    '../_base_/schedules/schedule_cls_10e.py', '../_base_/default_runtime.py'
]
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
