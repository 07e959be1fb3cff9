# A student for COCO: mmdet's GFL R-50 1x config with a ResNet-18 backbone
# (ImageNet weights from torchvision, as mmdet's R-18 configs use).
_base_ = ['mmdet::gfl/gfl_r50_fpn_1x_coco.py']
model = dict(
    backbone=dict(
        depth=18,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')),
    neck=dict(in_channels=[64, 128, 256, 512]))
