# ViT, 6 layers, 192-d, patch 4, on Fashion-MNIST: the transformer teacher.
_base_ = [
    '../../_base_/models/vit-small-p4_32px.py',
    '../../_base_/datasets/fashion_mnist.py',
    '../../_base_/schedules/schedule_cls_10e.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    data_preprocessor={{_base_.fashion_mnist_preprocessor}},
    backbone=dict(in_channels=1))
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
