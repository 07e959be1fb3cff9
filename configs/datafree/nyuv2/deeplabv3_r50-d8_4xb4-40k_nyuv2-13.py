# The NYUv2 data-free teacher, a plain mmseg config (train it on NYUv2 with
# tools/train.py, or point the data-free config at your own checkpoint of
# it): DeepLabV3 (Chen et al., 2017) on ResNet-50-D8, NYUv2 13 classes
# (NYUv2Dataset maps the stored NYU-40 labels), 480x480 crops, 40k
# iterations. Plain BN (not SyncBN): the data-free BN prior reads every
# nn.BatchNorm2d (a SyncBN checkpoint has the same keys).
_base_ = [
    'mmseg::_base_/models/deeplabv3_r50-d8.py',
    '../../_base_/datasets/nyuv2-40_480x480.py',
    'mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_40k.py'
]
default_scope = 'kdtools'
num_classes = 13
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(480, 480)),
    backbone=dict(norm_cfg=norm_cfg),
    decode_head=dict(num_classes=num_classes, norm_cfg=norm_cfg),
    auxiliary_head=dict(num_classes=num_classes, norm_cfg=norm_cfg))
train_dataloader = dict(dataset=dict(num_classes=num_classes))
val_dataloader = dict(dataset=dict(num_classes=num_classes))
test_dataloader = val_dataloader
