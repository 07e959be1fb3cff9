# SSD-KD (Liu et al., CVPR 2024) on NYUv2, 13 classes, the paper's pair
# (DATAFREE.md 7): DeepLabV3 ResNet-50-D8 teacher -> DeepLabV3
# MobileNetV2-D8 student, for users with NYUv2 in data/nyuv2 (only the 654
# test images are read, to evaluate: mIoU) and a teacher checkpoint of
# nyuv2/deeplabv3_r50-d8_4xb4-40k_nyuv2-13.py (set teacher_ckpt).
# 16,000 synthetic images at 128x128 (DATAFREE.md 7.1) in rounds of 64
# (B >= 8 for the ASPP image-pool BN), Fast-2 synthesis, KD at T=1 on
# RandomResizedCrop(0.5-1) views, student SGD 0.1 / wd 5e-5 / cosine. The
# schedule (warm-up + 40k distillation steps of 64) is our choice [C]:
# the paper's is not known. Evaluation: the base config's test pipeline
# (Resize 640x480), not Fast's Resize(256).
_base_ = ['./nyuv2/deeplabv3_m-v2-d8_nyuv2-13.py']

teacher_config = '{{ fileDirname }}/nyuv2/deeplabv3_r50-d8_4xb4-40k_nyuv2-13.py'
teacher_ckpt = 'checkpoints/deeplabv3_r50-d8_nyuv2-13.pth'
_rounds = 250  # 16000 / 64
_warmup = 50   # ceil(0.2 * 250)
_max_iters = _warmup + 40000

model = dict(
    _delete_=True,
    type='DataFreeDistiller',
    task='seg',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    generator=dict(type='FastGenerator', nz=256, ngf=64, img_size=128),
    budget=16000,
    buffer_size=None,
    buffer=dict(type='PriorityReplayBuffer', alpha=0.6, eps=1e-6,
                evict='fifo', dtype='uint8',
                weight_norm='batch_mean'),
    synthesis=dict(
        batch_size=64, inner_steps=2, lr_g=5e-3, lr_z=0.015, meta=True,
        bn_weight=10.0, bn_momentum=0.9, warmup_ratio=0.2, span=0.8,
        task=dict(type='ModulatedTaskLoss', gamma=2.0, kappa=-1.0,
                  loss_weight=0.5),
        adv=dict(type='AdversarialDisagreementLoss', loss_weight=1.0),
        augment=dict(type='SynthesisAugment', padding=8)),
    distill=dict(
        batch_size=64, loss=dict(type='WeightedKDLoss', temperature=1.0),
        augment=dict(type='SynthesisAugment', padding=0, scale=(0.5, 1.0)),
        beta=(0.4, 1.0), priority='w_kl'))

train_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='SyntheticDataset', length=1000000))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop',
                 max_iters=_max_iters, val_interval=4000)
optim_wrapper = dict(
    _delete_=True, constructor='DataFreeOptimWrapperConstructor',
    student=dict(type='OptimWrapper', optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-5)),
    generator=dict(type='OptimWrapper', optimizer=dict(
        type='Adam', lr=5e-3 * 2, betas=(0.5, 0.999))))
param_scheduler = dict(
    _delete_=True,
    student=[dict(type='CosineAnnealingLR', by_epoch=False, begin=_warmup,
                  end=_max_iters, eta_min=1e-4)],
    generator=[dict(type='ConstantLR', factor=1.0, by_epoch=False)])
model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel',
                         broadcast_buffers=False,
                         find_unused_parameters=False)
custom_hooks = [dict(type='DataFreeVisualizationHook', vis_interval=25)]
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000,
                    max_keep_ckpts=2, save_best='mIoU', rule='greater'))
log_processor = dict(by_epoch=False)
