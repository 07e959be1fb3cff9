# CIFAR ResNet-14 on CIFAR-100 (mmpretrain's CIFAR data and 200-epoch SGD
# schedule): the FSP student of the seed note 001 runs and its baseline.
_base_ = [
    '../../_base_/models/resnet14_cifar.py',
    'mmpretrain::_base_/datasets/cifar100_bs16.py',
    'mmpretrain::_base_/schedules/cifar10_bs128.py',
    '../../_base_/default_runtime.py'
]
# mmpretrain's CIFAR-100 normalisation (its dataset config's values)
model = dict(
    data_preprocessor=dict(num_classes=100, mean=[129.304, 124.070, 112.434],
                           std=[68.170, 65.392, 70.418], to_rgb=False),
    head=dict(num_classes=100))
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
