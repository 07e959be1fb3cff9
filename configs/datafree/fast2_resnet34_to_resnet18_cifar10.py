# The Fast-Datafree "Fast-2" baseline (Fang et al., AAAI 2022) on CIFAR-10,
# ResNet-34 -> ResNet-18, with the same parts as ssd-kd_*_cifar10.py: a
# memory bank of every synthetic image, sampled uniformly; no phi; one
# synthesis round of 256 per 400 distillation steps over the whole run
# after 20 of 220 epochs of warm-up: 220 rounds, 56,320 images
# (scripts/fast_cifar.sh).
_base_ = ['./ssd-kd_resnet34_to_resnet18_cifar10.py']

model = dict(
    budget=220 * 256,
    buffer=dict(_delete_=True, type='MemoryBank', dtype='uint8'),
    synthesis=dict(
        warmup_ratio=20 / 220, span=1.0,
        task=dict(type='ModulatedTaskLoss', gamma=0.0, kappa=0.0,
                  loss_weight=0.5)))
train_cfg = dict(max_iters=20 + 200 * 400)
param_scheduler = dict(
    student=[dict(type='CosineAnnealingLR', by_epoch=False, begin=20,
                  end=20 + 200 * 400, eta_min=2e-4)])
