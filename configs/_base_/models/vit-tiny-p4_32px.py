# The student-sized classifier: a small ViT (4 layers, 96-d, 3 heads) on
# 4x4 patches of 32x32 inputs (64 tokens + the class token).
model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=10,
        mean=[125.3, 123.0, 113.9],
        std=[63.0, 62.1, 66.7],
        to_rgb=True),
    backbone=dict(
        type='mmpretrain.VisionTransformer',
        arch=dict(embed_dims=96, num_layers=4, num_heads=3,
                  feedforward_channels=384),
        img_size=32,
        patch_size=4,
        drop_rate=0.0,
        drop_path_rate=0.1,
        init_cfg=[
            dict(type='Kaiming', layer='Conv2d', mode='fan_in',
                 nonlinearity='linear')
        ]),
    neck=None,
    head=dict(
        type='mmpretrain.VisionTransformerClsHead',
        num_classes=10,
        in_channels=96,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0)))
