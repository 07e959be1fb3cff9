# CIFAR ResNet-14 on CIFAR-100 (mmpretrain's CIFAR data and 200-epoch SGD
# schedule): the FSP student of the seed note 001 runs and its baseline: the
# ResNet-32 config with ResNet-14's backbone (mmpretrain's ResNet_CIFAR, as
# in configs/_base_/models/resnet14_cifar.py, so it exports to plain
# mmpretrain).
_base_ = ['./resnet32-cifar_8xb16_cifar100.py']
model = dict(
    backbone=dict(_delete_=True, type='mmpretrain.ResNet_CIFAR', depth=18,
                  num_stages=3, stem_channels=16, base_channels=16,
                  strides=(1, 2, 2), dilations=(1, 1, 1), out_indices=(2, ),
                  style='pytorch'))
