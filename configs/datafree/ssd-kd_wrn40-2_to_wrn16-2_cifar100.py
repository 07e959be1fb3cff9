# SSD-KD on CIFAR-100, WRN-40-2 -> WRN-16-2 (adv 1.1, oh 0.4):
# ssd-kd_wrn40-2_to_wrn16-1_cifar100.py with the wider student. The
# teacher: train configs/cls/cifar100/wrn40-2_8xb16_cifar100.py and copy
# its best checkpoint to teacher_ckpt (checkpoints/cifar100_wrn40-2.pth).
_base_ = ['./ssd-kd_wrn40-2_to_wrn16-1_cifar100.py']
model = dict(student=dict(backbone=dict(widen_factor=2),
                          head=dict(in_channels=128)))
