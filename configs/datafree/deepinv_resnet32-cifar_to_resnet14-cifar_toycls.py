# DeepInversion (Yin et al., "Dreaming to Distill", CVPR 2020) on the
# embedded classification set, as NVlabs' CIFAR reference sets it
# (cifar10/deepinversion_cifar10.py, the README's paper parameters): no
# generator network (the pixels of each batch are optimised from noise,
# PixelGenerator), Adam on the pixels, the BN-statistics prior on the
# current batch alone (momentum 0) at weight 10, the total-variation prior
# at 2.5e-5 and no l2 prior (the reference's CIFAR values; both on the
# normalised teacher input, as there), the plain cross-entropy to the
# target classes, no adversarial (competition) term, no meta-learning,
# no warm-up, a uniformly sampled memory bank. The reference runs 2,000
# steps per batch of 256; here 5 batches of 64 with 100 steps each (on 2
# CPU cores, so that the benchmark's 3 seeds fit), spread over the run.
_base_ = ['./ssd-kd_resnet32-cifar_to_resnet14-cifar_toycls.py']

model = dict(
    generator=dict(_delete_=True, type='PixelGenerator', img_size=32),
    buffer=dict(_delete_=True, type='MemoryBank', dtype='uint8'),
    synthesis=dict(
        _delete_=True,
        batch_size=64, inner_steps=100, lr_z=0.05, meta=False,
        bn_weight=10.0, bn_momentum=0.0, tv_weight=2.5e-5, l2_weight=0.0,
        warmup_ratio=0.0, span=0.8,
        task=dict(type='ModulatedTaskLoss', gamma=0.0, kappa=0.0,
                  loss_weight=1.0),
        adv=None,
        augment=dict(type='SynthesisAugment', padding=2)))

# no generator to meta-learn: the student's optimizer only
optim_wrapper = dict(
    _delete_=True, constructor='DataFreeOptimWrapperConstructor',
    student=dict(type='OptimWrapper', optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4)))
param_scheduler = dict(
    _delete_=True,
    student=[dict(type='CosineAnnealingLR', by_epoch=False, begin=0,
                  end=400, eta_min=2e-4)])
