# CIFAR ResNet-14 on Fashion-MNIST: the FSP student and its baseline.
_base_ = [
    '../../_base_/models/resnet14_cifar.py',
    '../../_base_/datasets/fashion_mnist.py',
    '../../_base_/schedules/schedule_cls_10e.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    data_preprocessor={{_base_.fashion_mnist_preprocessor}},
    backbone=dict(in_channels=1))
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
train_cfg = dict(val_interval=1)
