# DeiT-S (no distillation token; mmpretrain's deit-small architecture)
# fine-tuned on CIFAR-100 at 224x224: the transformer teacher of the seed
# note 000 runs (and its "DeiT fine tuning" baseline). Start it from ImageNet
# weights (mmpretrain's deit-small checkpoint) with `load_from=...`. No
# Mixup/CutMix: the distillation losses take hard labels.
_base_ = [
    '../../_base_/datasets/cifar100_224px.py',
    '../../_base_/schedules/schedule_cls_finetune_30e.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='mmpretrain.VisionTransformer', arch='deit-small',
                  img_size=224, patch_size=16),
    neck=None,
    head=dict(type='mmpretrain.VisionTransformerClsHead', num_classes=100,
              in_channels=384,
              loss=dict(type='mmpretrain.CrossEntropyLoss')),
    init_cfg=[
        dict(type='TruncNormal', layer='Linear', std=.02),
        dict(type='Constant', layer='LayerNorm', val=1., bias=0.),
    ])
train_dataloader = dict(batch_size=8)
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
