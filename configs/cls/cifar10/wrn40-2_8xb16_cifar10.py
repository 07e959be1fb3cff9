# WRN-40-2 on CIFAR-10 (mmpretrain's CIFAR data and 200-epoch SGD schedule,
# batch 8 x 16 = 128): the teacher of the Fast-Datafree / SSD-KD WRN pairs
# (configs/datafree/ssd-kd_wrn40-2_to_wrn{16-1,40-1,16-2}_cifar10.py and
# configs/datafree/fast2_wrn40-2_to_wrn16-1_cifar10.py): train it, then copy
# its best checkpoint to the teacher_ckpt they name
# (checkpoints/cifar10_wrn40-2.pth). Needs CIFAR-10 in data/cifar10.
_base_ = [
    '../../_base_/models/wrn40-2_cifar.py',
    'mmpretrain::_base_/datasets/cifar10_bs16.py',
    'mmpretrain::_base_/schedules/cifar10_bs128.py',
    '../../_base_/default_runtime.py'
]
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
