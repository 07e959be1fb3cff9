# CIFAR ResNet-14 (three stages of 2 basic blocks, 16/32/64 channels), built
# from mmpretrain's own ResNet_CIFAR so the student exports to plain
# mmpretrain: the FSP student of Yim et al. (seed note 001).
model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=10,
        mean=[125.3, 123.0, 113.9],
        std=[63.0, 62.1, 66.7],
        to_rgb=True),
    backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, num_stages=3,
                  stem_channels=16, base_channels=16, strides=(1, 2, 2),
                  dilations=(1, 1, 1), out_indices=(2, ), style='pytorch'),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0)))
