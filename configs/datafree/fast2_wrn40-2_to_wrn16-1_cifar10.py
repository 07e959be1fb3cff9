# The Fast-Datafree "Fast-2" baseline (Fang et al., AAAI 2022) on CIFAR-10,
# WRN-40-2 -> WRN-16-1 (Fast-Datafree's default pair; adv 1.1, oh 0.4):
# fast2_resnet34_to_resnet18_cifar10.py's changes on
# ssd-kd_wrn40-2_to_wrn16-1_cifar10.py: a memory bank of every synthetic
# image, sampled uniformly; no phi; 220 rounds of 256 (56,320 images), the
# first 20 a warm-up (scripts/fast_cifar.sh). The teacher: train
# configs/cls/cifar10/wrn40-2_8xb16_cifar10.py and copy its best
# checkpoint to teacher_ckpt (checkpoints/cifar10_wrn40-2.pth).
_base_ = ['./ssd-kd_wrn40-2_to_wrn16-1_cifar10.py']

model = dict(
    budget=220 * 256,
    buffer=dict(_delete_=True, type='MemoryBank', dtype='uint8'),
    synthesis=dict(
        warmup_ratio=20 / 220, span=1.0,
        task=dict(type='ModulatedTaskLoss', gamma=0.0, kappa=0.0,
                  loss_weight=0.4)))
train_cfg = dict(max_iters=20 + 200 * 400)
param_scheduler = dict(
    student=[dict(type='CosineAnnealingLR', by_epoch=False, begin=20,
                  end=20 + 200 * 400, eta_min=2e-4)])
