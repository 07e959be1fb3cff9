# SSD-KD (Liu et al., CVPR 2024) for segmentation on the embedded set, data
# free (DATAFREE.md 7): the quarter-width FCN R-18-D8 student learns from
# the PSPNet MobileNetV2-D8 teacher of
# configs/seg/pspnet_mobilenetv2-d8_8k_toyseg.py (train it first:
# `python tools/train.py configs/seg/pspnet_mobilenetv2-d8_8k_toyseg.py`,
# or tools/analysis_tools/bench_quality.py --task seg) on 64x64 images
# inverted from it; no training image is read, only the val split (mIoU,
# mmseg's IoUMetric). The task target is the teacher's own per-pixel
# argmax, phi counts pixels with inverse frequency (kappa=-1), the
# priority of a buffer image is w * its pixel-mean KL, KD at T=1. Sized for
# 2 CPU cores in minutes: 80 synthetic images (5 rounds of 16, a tenth of
# the Fast-Datafree baseline's 800; the real training split has 400), 300
# iterations (a round ~3.3 s, a distillation step ~0.35 s on one core:
# about 2 minutes); a grid of the
# buffer with the teacher's masks is written to
# work_dir/<time>/vis_data/vis_image every 5 rounds.
# tools/analysis_tools/bench_datafree.py --task seg compares it with the
# fast2_* and deepinv_* baselines beside it.
_base_ = ['../seg/fcn_r18-base16-d8_2k_toyseg.py']

teacher_config = '{{ fileDirname }}/../seg/pspnet_mobilenetv2-d8_8k_toyseg.py'
teacher_ckpt = 'work_dirs/demo/seg_teacher/pspnet_mobilenetv2-d8_8k_toyseg.pth'
_max_iters = 300

model = dict(
    _delete_=True,
    type='DataFreeDistiller',
    task='seg',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    generator=dict(type='FastGenerator', nz=256, ngf=32, img_size=64),
    budget=80,
    buffer_size=None,
    buffer=dict(type='PriorityReplayBuffer', alpha=0.6, eps=1e-6,
                evict='fifo', dtype='uint8'),
    synthesis=dict(
        batch_size=16, inner_steps=2, lr_g=5e-3, lr_z=0.015, meta=True,
        bn_weight=10.0, bn_momentum=0.9, warmup_ratio=0.2, span=0.8,
        # phi(x, u) = sg[(n_yhat_u / nbar)^kappa] * (1 - p_t(yhat_u))^gamma,
        # yhat_u the teacher's own argmax; n counts pixels
        task=dict(type='ModulatedTaskLoss', gamma=2.0, kappa=-1.0,
                  loss_weight=0.5),
        adv=dict(type='AdversarialDisagreementLoss', loss_weight=1.0),
        augment=dict(type='SynthesisAugment', padding=8)),
    distill=dict(
        batch_size=16, loss=dict(type='WeightedKDLoss', temperature=1.0),
        augment=dict(type='SynthesisAugment', padding=0, scale=(0.5, 1.0)),
        beta=(0.4, 1.0), priority='w_kl'))

train_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='SyntheticDataset', length=1000000))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop',
                 max_iters=_max_iters, val_interval=150)

# student: SGD 0.1, wd 5e-5, cosine (DFAD's, DATAFREE.md 7.3); generator:
# Fast's meta-Adam (lr_g * inner_steps)
optim_wrapper = dict(
    _delete_=True, constructor='DataFreeOptimWrapperConstructor',
    student=dict(type='OptimWrapper', optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-5)),
    generator=dict(type='OptimWrapper', optimizer=dict(
        type='Adam', lr=0.01, betas=(0.5, 0.999))))
param_scheduler = dict(
    _delete_=True,
    student=[dict(type='CosineAnnealingLR', by_epoch=False, begin=0,
                  end=_max_iters, eta_min=1e-4)],
    generator=[dict(type='ConstantLR', factor=1.0, by_epoch=False)])
# under tools/dist_train.sh: student and generator DDP-wrapped one by one
# (the distiller's train_step runs as it is; each rank synthesises its own
# images and budget from its own seed, the student's gradients are averaged)
model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel',
                         broadcast_buffers=False,
                         find_unused_parameters=False)

custom_hooks = [dict(type='DataFreeVisualizationHook', vis_interval=5)]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(by_epoch=False, interval=150, save_best='mIoU',
                    rule='greater'))
log_processor = dict(by_epoch=False)
