# The teacher of the embedded segmentation benchmark: PSPNet on an
# ImageNet-pretrained MobileNetV2-D8.
_base_ = [
    '../_base_/models/pspnet_mobilenetv2-d8.py',
    '../_base_/datasets/toy_seg.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_seg_2k.py'
]

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500,
                    max_keep_ckpts=2, save_best='mIoU', rule='greater'))
log_processor = dict(by_epoch=False)
