# SSD-KD on CIFAR-10, WRN-40-2 -> WRN-16-2 (adv 1.1, oh 0.4):
# ssd-kd_wrn40-2_to_wrn16-1_cifar10.py with the wider student. The
# teacher: train configs/cls/cifar10/wrn40-2_8xb16_cifar10.py and copy its
# best checkpoint to teacher_ckpt (checkpoints/cifar10_wrn40-2.pth).
_base_ = ['./ssd-kd_wrn40-2_to_wrn16-1_cifar10.py']
model = dict(student=dict(backbone=dict(widen_factor=2),
                          head=dict(in_channels=128)))
