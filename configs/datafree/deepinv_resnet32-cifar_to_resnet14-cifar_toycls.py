# DeepInversion-style inversion (Yin et al., CVPR 2020; Fast-Datafree's
# DeepInv baseline: --g_steps 1000 --lr_g 0.1 --adv 1 --bn 10 --oh 1) with
# the same parts as the SSD-KD config beside it: no generator network (the
# pixels of each batch are optimised from noise, PixelGenerator), many
# steps per batch (20 here, 10x Fast-2, so that it finishes on a CPU in
# about 10 minutes; 1000-2000 in the papers), no
# meta-learning, a uniformly sampled memory bank, the plain task term.
_base_ = ['./ssd-kd_resnet32-cifar_to_resnet14-cifar_toycls.py']

model = dict(
    generator=dict(_delete_=True, type='PixelGenerator', img_size=32),
    buffer=dict(_delete_=True, type='MemoryBank', dtype='uint8'),
    synthesis=dict(
        inner_steps=20, lr_z=0.1, meta=False, bn_weight=10.0,
        task=dict(type='ModulatedTaskLoss', gamma=0.0, kappa=0.0,
                  loss_weight=1.0),
        adv=dict(type='AdversarialDisagreementLoss', loss_weight=1.0)))

# no generator to meta-learn: the student's optimizer only
optim_wrapper = dict(
    _delete_=True, constructor='DataFreeOptimWrapperConstructor',
    student=dict(type='OptimWrapper', optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4)))
param_scheduler = dict(
    _delete_=True,
    student=[dict(type='CosineAnnealingLR', by_epoch=False, begin=0,
                  end=400, eta_min=2e-4)])
