# SSD-KD (Liu et al., CVPR 2024) on CIFAR-10, ResNet-34 -> ResNet-18 (the
# first of Fast-Datafree's five pairs, DATAFREE.md 4), for users with
# CIFAR-10 in data/cifar10 (only the test split is read, to evaluate) and a
# ResNet-34 teacher trained with mmpretrain's resnet34_8xb16_cifar10.py
# (set teacher_ckpt). Budget: 5,000 synthetic images (10% of CIFAR-10's
# training set) in a buffer of 5,000; Fast-2 synthesis (k=2, lr_g 5e-3,
# lr_z 0.015, meta lr 0.01) and Fast's R34->R18 weights (bn 10, oh 0.5,
# adv 1.33); the "Fast2-parity" student schedule of DATAFREE.md 3 (T 20,
# SGD 0.2, batch 256, 200 x 400 distillation steps after the warm-up).
_base_ = [
    'mmpretrain::_base_/models/resnet18_cifar.py',
    'mmpretrain::_base_/datasets/cifar10_bs16.py',
    '../_base_/default_runtime.py'
]
teacher_config = 'mmpretrain::resnet/resnet34_8xb16_cifar10.py'
teacher_ckpt = 'checkpoints/cifar10_resnet34.pth'
# mmpretrain's CIFAR-10 normalisation, on the student itself (the
# distiller normalises synthetic images with it; the teacher's config keeps
# its preprocessor outside its model, so the teacher gets the same)
student_preprocessor = dict(
    type='mmpretrain.ClsDataPreprocessor', num_classes=10,
    mean=[125.307, 122.961, 113.8575], std=[51.5865, 50.847, 51.255],
    to_rgb=False)
data_preprocessor = None
_rounds = 20  # ceil(5000 / 256)
_warmup = 4   # ceil(0.2 * 20)
_max_iters = _warmup + 200 * 400

model = dict(
    _delete_=True,
    type='DataFreeDistiller',
    student=dict(
        type='mmpretrain.ImageClassifier',
        data_preprocessor=student_preprocessor,
        backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18,
                      num_stages=4, out_indices=(3, ), style='pytorch'),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=10,
                  in_channels=512,
                  loss=dict(type='mmpretrain.CrossEntropyLoss',
                            loss_weight=1.0))),
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    generator=dict(type='FastGenerator', nz=256, ngf=64, img_size=32),
    budget=5000,
    buffer_size=None,
    buffer=dict(type='PriorityReplayBuffer', alpha=0.6, eps=1e-6,
                evict='fifo', dtype='uint8',
                weight_norm='batch_mean'),
    synthesis=dict(
        batch_size=256, inner_steps=2, lr_g=5e-3, lr_z=0.015, meta=True,
        bn_weight=10.0, bn_momentum=0.9, warmup_ratio=0.2, span=0.8,
        task=dict(type='ModulatedTaskLoss', gamma=2.0, kappa=1.0,
                  loss_weight=0.5),
        adv=dict(type='AdversarialDisagreementLoss', loss_weight=1.33),
        augment=dict(type='SynthesisAugment', padding=4)),
    distill=dict(
        batch_size=256, loss=dict(type='WeightedKDLoss', temperature=20.0),
        augment=dict(type='SynthesisAugment', padding=4), beta=(0.4, 1.0),
        priority='w_kl'))

train_dataloader = dict(
    _delete_=True, batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='SyntheticDataset', length=1000000))
val_dataloader = dict(batch_size=256, num_workers=2)
test_dataloader = val_dataloader
train_cfg = dict(type='IterBasedTrainLoop', max_iters=_max_iters,
                 val_interval=400)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(
    constructor='DataFreeOptimWrapperConstructor',
    student=dict(type='OptimWrapper', optimizer=dict(
        type='SGD', lr=0.2, momentum=0.9, weight_decay=1e-4)),
    generator=dict(type='OptimWrapper', optimizer=dict(
        type='Adam', lr=5e-3 * 2, betas=(0.5, 0.999))))
param_scheduler = dict(
    student=[dict(type='CosineAnnealingLR', by_epoch=False, begin=_warmup,
                  end=_max_iters, eta_min=2e-4)],
    generator=[dict(type='ConstantLR', factor=1.0, by_epoch=False)])
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(by_epoch=False, interval=4000, max_keep_ckpts=2,
                    save_best='accuracy/top1', rule='greater'))
log_processor = dict(by_epoch=False)
