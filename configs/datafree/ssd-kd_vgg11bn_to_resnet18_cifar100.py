# SSD-KD on CIFAR-100, VGG-11 (BN) -> ResNet-18 (adv 1.0, oh 0.5):
# ssd-kd_resnet34_to_resnet18_cifar100.py (same student, budget, synthesis
# and schedule) with the VGG-11 teacher. The teacher: train
# configs/cls/cifar100/vgg11bn_8xb16_cifar100.py and copy its best
# checkpoint to teacher_ckpt.
_base_ = ['./ssd-kd_resnet34_to_resnet18_cifar100.py']
teacher_config = \
    '{{ fileDirname }}/../cls/cifar100/vgg11bn_8xb16_cifar100.py'
teacher_ckpt = 'checkpoints/cifar100_vgg11bn.pth'

model = dict(
    teacher=dict(_delete_=True, config=teacher_config,
                 checkpoint=teacher_ckpt),
    synthesis=dict(task=dict(loss_weight=0.5), adv=dict(loss_weight=1.0)))
