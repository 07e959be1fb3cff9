# CIFAR ResNet-14 on the embedded classification set (FSP student and its baseline).
_base_ = [
    '../_base_/models/resnet14_cifar.py', '../_base_/datasets/toy_cls.py',
    '../_base_/schedules/schedule_cls_10e.py', '../_base_/default_runtime.py'
]
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
# validate every epoch: the FSP convergence check compares when the baseline
# and the FSP student reach the baseline's final accuracy
train_cfg = dict(val_interval=1)
