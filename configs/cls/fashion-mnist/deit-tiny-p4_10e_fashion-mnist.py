# The small ViT with a distillation token and head on Fashion-MNIST: the DeiT
# student.
_base_ = [
    '../../_base_/models/deit-tiny-p4_32px.py',
    '../../_base_/datasets/fashion_mnist.py',
    '../../_base_/schedules/schedule_cls_10e.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    data_preprocessor={{_base_.fashion_mnist_preprocessor}},
    backbone=dict(in_channels=1))
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
