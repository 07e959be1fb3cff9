# SSD-KD (Liu et al., CVPR 2024) on the embedded classification set, data
# free: the student (CIFAR ResNet-14) learns from the ResNet-32 teacher of
# configs/cls/resnet32-cifar_10e_toycls.py (train it first:
# `python tools/train.py configs/cls/resnet32-cifar_10e_toycls.py`, or
# tools/misc/make_teachers.py) on images inverted from it; no training
# image is read, only the val split (to evaluate the student). Sized for
# 2 CPU cores in minutes: 320 synthetic images kept (a tenth of the
# Fast-Datafree baseline's 3,200) in a replay buffer of 320, made by 50
# rounds of 7 (the generator gets Fast's 50 meta-updates, 350 images made,
# each round's first 6-7 kept), 400 iterations. The importance weights
# are normalised over the drawn batch (weight_norm='batch_mean'). Both
# choices come from the ablation of tools/analysis_tools/bench_datafree.py
# --task cls (docs/en/methods/datafree.md, "SSD-KD's reading"). The
# Fast-Datafree and DeepInversion baselines beside it (fast2_*, deepinv_*)
# set their own parts.
_base_ = ['../cls/resnet14-cifar_10e_toycls.py']

teacher_config = '{{ fileDirname }}/../cls/resnet32-cifar_10e_toycls.py'
teacher_ckpt = 'work_dirs/demo/cls_teacher_r32/resnet32-cifar_10e_toycls.pth'

model = dict(
    _delete_=True,
    type='DataFreeDistiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    generator=dict(type='FastGenerator', nz=256, ngf=64, img_size=32),
    budget=320,          # synthetic images in all (S_total)
    buffer_size=None,    # N_max; None: the budget
    buffer=dict(type='PriorityReplayBuffer', alpha=0.6, eps=1e-6,
                evict='fifo', dtype='uint8', weight_norm='batch_mean'),
    synthesis=dict(
        batch_size=7, rounds=50,  # images made per round, rounds
        inner_steps=2, lr_g=5e-3, lr_z=0.015, meta=True,
        bn_weight=10.0, bn_momentum=0.9, warmup_ratio=0.2, span=0.8,
        # phi = sg[(n_yhat / nbar)^kappa] * (1 - p_t(c))^gamma
        task=dict(type='ModulatedTaskLoss', gamma=2.0, kappa=1.0,
                  loss_weight=0.5),
        adv=dict(type='AdversarialDisagreementLoss', loss_weight=1.33),
        augment=dict(type='SynthesisAugment', padding=4)),
    distill=dict(
        batch_size=64, loss=dict(type='WeightedKDLoss', temperature=20.0),
        augment=dict(type='SynthesisAugment', padding=4), beta=(0.4, 1.0),
        priority='w_kl'))

# no training data: empty batches count the iterations
train_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='SyntheticDataset', length=1000000))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=400,
                 val_interval=200)

# one optimizer per part: Fast's SGD for the student, its meta-Adam
# (lr = lr_g * inner_steps, betas (0.5, 0.999)) for the generator
optim_wrapper = dict(
    _delete_=True, constructor='DataFreeOptimWrapperConstructor',
    student=dict(type='OptimWrapper', optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4)),
    generator=dict(type='OptimWrapper', optimizer=dict(
        type='Adam', lr=0.01, betas=(0.5, 0.999))))
param_scheduler = dict(
    _delete_=True,
    student=[dict(type='CosineAnnealingLR', by_epoch=False, begin=0,
                  end=400, eta_min=2e-4)],
    generator=[dict(type='ConstantLR', factor=1.0, by_epoch=False)])

# under tools/dist_train.sh: student and generator DDP-wrapped one by one
# (the distiller's train_step runs as it is; each rank synthesises its own
# images and budget from its own seed, the student's gradients are averaged)
model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel',
                         broadcast_buffers=False,
                         find_unused_parameters=False)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(by_epoch=False, interval=200, save_best='accuracy/top1',
                    rule='greater'))
log_processor = dict(by_epoch=False)
