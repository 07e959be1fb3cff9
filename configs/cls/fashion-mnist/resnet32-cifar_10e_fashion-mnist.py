# CIFAR ResNet-32 on Fashion-MNIST: the FSP teacher.
_base_ = [
    '../../_base_/models/resnet32_cifar.py',
    '../../_base_/datasets/fashion_mnist.py',
    '../../_base_/schedules/schedule_cls_10e.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    data_preprocessor={{_base_.fashion_mnist_preprocessor}},
    backbone=dict(in_channels=1))
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
