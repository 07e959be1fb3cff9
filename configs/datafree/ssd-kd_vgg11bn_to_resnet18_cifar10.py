# SSD-KD on CIFAR-10, VGG-11 (BN) -> ResNet-18 (a Fast-Datafree pair,
# DATAFREE.md 4.2: adv 1.0, oh 0.5): ssd-kd_resnet34_to_resnet18_cifar10.py
# (same student, budget, synthesis and schedule) with the VGG-11 teacher.
# The teacher: train configs/cls/cifar10/vgg11bn_8xb16_cifar10.py and copy
# its best checkpoint to teacher_ckpt.
_base_ = ['./ssd-kd_resnet34_to_resnet18_cifar10.py']
teacher_config = '{{ fileDirname }}/../cls/cifar10/vgg11bn_8xb16_cifar10.py'
teacher_ckpt = 'checkpoints/cifar10_vgg11bn.pth'

model = dict(
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    synthesis=dict(task=dict(loss_weight=0.5), adv=dict(loss_weight=1.0)))
