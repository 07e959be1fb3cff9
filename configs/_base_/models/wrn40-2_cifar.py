# WRN-40-2 for CIFAR (Zagoruyko & Komodakis, "Wide Residual Networks", BMVC
# 2016: pre-activation basic blocks, widths 16/32/64 x 2, depth 6n + 4 with
# n = 6; 2,243,546 parameters with 10 classes): kdtools' WideResNetCifar,
# as CRD's and Fast-Datafree's wrn_40_2, the teacher of their WRN pairs.
# mmpretrain's CIFAR-10 normalisation (its cifar10_bs16.py values).
model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=10,
        mean=[125.307, 122.961, 113.8575],
        std=[51.5865, 50.847, 51.255],
        to_rgb=False),
    backbone=dict(type='kdtools.WideResNetCifar', depth=40, widen_factor=2,
                  out_indices=(2, )),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.LinearClsHead',
        num_classes=10,
        in_channels=128,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0)))
