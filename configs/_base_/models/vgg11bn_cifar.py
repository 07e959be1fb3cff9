# VGG-11 with BN for 32x32 inputs, from mmpretrain's own VGG (no new code):
# the Fast-Datafree / SSD-KD teacher of ResNet-18. As CRD's and
# Fast-Datafree's vgg11_bn: no 4096-wide FC layers, global average pooling
# and one linear layer over 512 channels. One difference: their vgg11_bn
# skips the 4th max-pool on 32-px inputs (stages 4 and 5 at 4x4), while
# mmpretrain's VGG pools after every stage; with_last_pool=False drops the
# 5th, so stage 5 runs at 2x2 here (same parameters, 9,231,114 with 10
# classes). mmpretrain's CIFAR-10 normalisation.
model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=10,
        mean=[125.307, 122.961, 113.8575],
        std=[51.5865, 50.847, 51.255],
        to_rgb=False),
    backbone=dict(type='mmpretrain.VGG', depth=11, norm_cfg=dict(type='BN'),
                  with_last_pool=False, out_indices=(4, )),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.LinearClsHead',
        num_classes=10,
        in_channels=512,
        loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0)))
