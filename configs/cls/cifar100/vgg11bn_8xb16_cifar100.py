# VGG-11 (BN) on CIFAR-100 (mmpretrain's CIFAR data and 200-epoch SGD
# schedule, batch 8 x 16 = 128): the teacher of the Fast-Datafree / SSD-KD
# VGG-11 -> ResNet-18 pair
# (configs/datafree/ssd-kd_vgg11bn_to_resnet18_cifar100.py): train it,
# then copy its best checkpoint to the teacher_ckpt it names
# (checkpoints/cifar100_vgg11bn.pth). Needs CIFAR-100 in data/cifar100.
_base_ = [
    '../../_base_/models/vgg11bn_cifar.py',
    'mmpretrain::_base_/datasets/cifar100_bs16.py',
    'mmpretrain::_base_/schedules/cifar10_bs128.py',
    '../../_base_/default_runtime.py'
]
# mmpretrain's CIFAR-100 normalisation (its dataset config's values)
model = dict(
    data_preprocessor=dict(num_classes=100, mean=[129.304, 124.070, 112.434],
                           std=[68.170, 65.392, 70.418]),
    head=dict(num_classes=100))
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
