# The teacher of the embedded segmentation benchmark: PSPNet on an
# ImageNet-pretrained MobileNetV2-D8, trained 8,000 iterations (the students
# train 2,000: a teacher trained longer than its students is the usual
# setting, and at 2,000 iterations this one is only ~5 mIoU above them).
_base_ = [
    '../_base_/models/pspnet_mobilenetv2-d8.py',
    '../_base_/datasets/toy_seg.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_seg_2k.py'
]

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=100, end=8000,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=8000,
                 val_interval=2000)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2000,
                    max_keep_ckpts=2, save_best='mIoU', rule='greater'))
log_processor = dict(by_epoch=False)
