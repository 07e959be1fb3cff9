# DeepInversion (Yin et al., "Dreaming to Distill", CVPR 2020) for
# segmentation on the embedded set, with the reference's settings where
# they carry over (NVlabs' cifar10/deepinversion_cifar10.py): no generator
# network (the pixels of each batch are optimised from noise,
# PixelGenerator), the BN-statistics prior on the current batch alone
# (momentum 0) at weight 10, the total-variation prior at 2.5e-5 and no l2
# prior (on the normalised teacher input), no adversarial term, no
# meta-learning, no warm-up, a uniformly sampled memory bank; the task
# term is the per-pixel cross-entropy to the teacher's own labels (a dense
# image has no sampled target). 20 steps per batch of 16 so that it
# finishes on a CPU in minutes (2,000 in the reference).
_base_ = ['./ssd-kd_pspnet-mbv2-d8_to_fcn-r18-base16-d8_toyseg.py']

model = dict(
    generator=dict(_delete_=True, type='PixelGenerator', img_size=64),
    buffer=dict(_delete_=True, type='MemoryBank', dtype='uint8'),
    synthesis=dict(
        _delete_=True,
        batch_size=16, inner_steps=20, lr_z=0.1, meta=False,
        bn_weight=10.0, bn_momentum=0.0, tv_weight=2.5e-5, l2_weight=0.0,
        warmup_ratio=0.0, span=0.8,
        task=dict(type='ModulatedTaskLoss', gamma=0.0, kappa=0.0,
                  loss_weight=1.0),
        adv=None,
        augment=dict(type='SynthesisAugment', padding=8)))

# no generator to meta-learn: the student's optimizer only
optim_wrapper = dict(
    _delete_=True, constructor='DataFreeOptimWrapperConstructor',
    student=dict(type='OptimWrapper', optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-5)))
param_scheduler = dict(
    _delete_=True,
    student=[dict(type='CosineAnnealingLR', by_epoch=False, begin=0,
                  end=300, eta_min=1e-4)])
