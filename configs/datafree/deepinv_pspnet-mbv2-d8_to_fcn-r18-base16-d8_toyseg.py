# DeepInversion-style inversion (Yin et al., CVPR 2020) for segmentation,
# with the same parts as the SSD-KD config beside it: no generator network
# (the pixels of each batch are optimised from noise, PixelGenerator), many
# steps per batch (20 here, 10x Fast-2, so that it finishes on a CPU in
# minutes; 1000-2000 in the papers), no meta-learning, a uniformly sampled
# memory bank, the plain per-pixel task term on the teacher's self-labels.
_base_ = ['./ssd-kd_pspnet-mbv2-d8_to_fcn-r18-base16-d8_toyseg.py']

model = dict(
    generator=dict(_delete_=True, type='PixelGenerator', img_size=64),
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
        type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-5)))
param_scheduler = dict(
    _delete_=True,
    student=[dict(type='CosineAnnealingLR', by_epoch=False, begin=0,
                  end=300, eta_min=1e-4)])
