# The DeiT-style student (the small ViT plus a distillation token and head)
# on the embedded classification set: the student of configs/cls/deit/.
# Trained alone its distillation head learns nothing; the baseline is
# vit-tiny-p4_10e_toycls.py.
_base_ = [
    '../_base_/models/deit-tiny-p4_32px.py', '../_base_/datasets/toy_cls.py',
    '../_base_/schedules/schedule_cls_10e.py', '../_base_/default_runtime.py'
]
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
