# SSD-KD on CIFAR-100, WRN-40-2 -> WRN-16-1 (adv 1.1, oh 0.4):
# ssd-kd_resnet34_to_resnet18_cifar100.py (100 classes, CIFAR-100
# normalisation) with the WRN teacher and student. The teacher: train
# configs/cls/cifar100/wrn40-2_8xb16_cifar100.py and copy its best
# checkpoint to teacher_ckpt.
_base_ = ['./ssd-kd_resnet34_to_resnet18_cifar100.py']
teacher_config = \
    '{{ fileDirname }}/../cls/cifar100/wrn40-2_8xb16_cifar100.py'
teacher_ckpt = 'checkpoints/cifar100_wrn40-2.pth'

model = dict(
    student=dict(
        backbone=dict(_delete_=True, type='kdtools.WideResNetCifar',
                      depth=16, widen_factor=1, out_indices=(2, )),
        head=dict(in_channels=64)),
    teacher=dict(_delete_=True, config=teacher_config,
                 checkpoint=teacher_ckpt),
    synthesis=dict(task=dict(loss_weight=0.4), adv=dict(loss_weight=1.1)))
