# VGG-11 (BN) on CIFAR-10 (mmpretrain's CIFAR data and 200-epoch SGD
# schedule, batch 8 x 16 = 128): the teacher of the Fast-Datafree / SSD-KD
# VGG-11 -> ResNet-18 pair
# (configs/datafree/ssd-kd_vgg11bn_to_resnet18_cifar10.py): train it, then
# copy its best checkpoint to the teacher_ckpt it names
# (checkpoints/cifar10_vgg11bn.pth). Needs CIFAR-10 in data/cifar10.
_base_ = [
    '../../_base_/models/vgg11bn_cifar.py',
    'mmpretrain::_base_/datasets/cifar10_bs16.py',
    'mmpretrain::_base_/schedules/cifar10_bs128.py',
    '../../_base_/default_runtime.py'
]
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
