# The teacher-sized classifier: CIFAR-style ResNet-18 (3x3 stem, no
# max-pool) at half width (32 base channels), for 32x32 inputs.
model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=10,
        mean=[125.3, 123.0, 113.9],
        std=[63.0, 62.1, 66.7],
        to_rgb=True),
    backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18, stem_channels=32,
                  base_channels=32, num_stages=4, out_indices=(3, ),
                  style='pytorch'),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.LinearClsHead',
        num_classes=10,
        in_channels=256,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0)))
