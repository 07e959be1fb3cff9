"""Stock-style MMLab configs as users keep them in their own projects
(``default_scope='mmdet'``, bare type names, mmdet's/mmseg's own dataset
classes), shrunk to the tiny embedded data: the students of the tests that
plug a user's config into kdtools unchanged."""
import os.path as osp

from mmengine.registry import MODELS

from kdtools.datasets import DIGIT_CLASSES
from kdtools.models.distillers.teacher import model_cfg_from
from kdtools.utils import load_config
from conftest import CONFIGS

GFL_TEACHER = osp.join(CONFIGS, 'det/gfl_mobilenetv2_fpn_12e_toydet.py')
PSP_TEACHER = osp.join(CONFIGS, 'seg/pspnet_mobilenetv2-d8_8k_toyseg.py')

RETINANET = """# a stock-style mmdet RetinaNet (ResNet-18, FPN)
default_scope = 'mmdet'
model = dict(
    type='RetinaNet',
    data_preprocessor=dict(
        type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(
        type='ResNet', depth=18, num_stages=4, out_indices=(1, 2, 3),
        frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False, style='pytorch', init_cfg=None),
    neck=dict(type='FPN', in_channels=[128, 256, 512], out_channels=64,
              start_level=0, add_extra_convs='on_input', num_outs=3),
    bbox_head=dict(
        type='RetinaHead', num_classes=10, in_channels=64, stacked_convs=1,
        feat_channels=64,
        anchor_generator=dict(
            type='AnchorGenerator', octave_base_scale=4,
            scales_per_octave=3, ratios=[0.5, 1.0, 2.0],
            strides=[8, 16, 32]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder',
                        target_means=[.0, .0, .0, .0],
                        target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0,
                      alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                      neg_iou_thr=0.4, min_pos_iou=0, ignore_iof_thr=-1),
        sampler=dict(type='PseudoSampler'), allowed_border=-1,
        pos_weight=-1, debug=False),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                  nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
dataset_type = 'CocoDataset'
data_root = {data_root!r}
metainfo = dict(classes={classes!r})
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackDetInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape',
                                          'img_shape', 'scale_factor'))]
train_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val.json', test_mode=True,
                 data_prefix=dict(img='val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', metric='bbox',
                     ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_interval=100)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(
    type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))
param_scheduler = []
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1000),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='nccl'),
               mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends,
                  name='visualizer')
log_processor = dict(type='LogProcessor', window_size=1, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
"""

# a stock-style mmseg DeepLabV3+ on mmseg's packaged base: the base's
# top-level ``data_preprocessor`` has no ``size``; the model's has
DEEPLABV3PLUS = """# a stock-style mmseg DeepLabV3+ (ResNetV1c-18: stride-4 logits)
_base_ = ['mmseg::_base_/models/deeplabv3plus_r50-d8.py']
default_scope = 'mmseg'
crop_size = (64, 64)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    pretrained=None,
    backbone=dict(depth=18, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=512, channels=32, c1_in_channels=64,
                     c1_channels=16, num_classes=11, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=256, channels=16, num_classes=11,
                        norm_cfg=norm_cfg))
dataset_type = 'BaseSegDataset'
data_root = {data_root!r}
metainfo = dict(classes=('background', ) + {classes!r})
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackSegInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')]
train_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 img_suffix='.png', seg_map_suffix='.png',
                 data_prefix=dict(img_path='img_dir/train',
                                  seg_map_path='ann_dir/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 img_suffix='.png', seg_map_suffix='.png',
                 data_prefix=dict(img_path='img_dir/val',
                                  seg_map_path='ann_dir/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_interval=100)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(
    type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005))
param_scheduler = []
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='nccl'),
               mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends,
                  name='visualizer')
log_processor = dict(by_epoch=False, window_size=1)
log_level = 'INFO'
load_from = None
resume = False
"""


def write_stock_retinanet(path, toy_data) -> str:
    """A stock-style mmdet RetinaNet config on the tiny detection data."""
    with open(path, 'w') as f:
        f.write(RETINANET.format(data_root=osp.join(toy_data, 'det') + '/',
                                 classes=DIGIT_CLASSES))
    return str(path)


def write_stock_deeplabv3plus(path, toy_data) -> str:
    """A stock-style mmseg DeepLabV3+ config (on mmseg's packaged base) on
    the tiny segmentation data."""
    with open(path, 'w') as f:
        f.write(DEEPLABV3PLUS.format(
            data_root=osp.join(toy_data, 'seg') + '/',
            classes=DIGIT_CLASSES))
    return str(path)


def random_teacher_ckpt(config, path) -> str:
    """A random-weight checkpoint of the model of ``config``."""
    import torch
    model_cfg = model_cfg_from(load_config(config), 'teacher')
    if model_cfg.get('backbone', {}).get('init_cfg'):
        model_cfg.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    torch.save(dict(state_dict=model.state_dict()), str(path))
    return str(path)


def distill_body(student, teacher_config, teacher_ckpt, losses,
                 recorders, extra='') -> str:
    """The ``model`` of a distillation config around ``student`` (the text
    of the student entry, e.g. ``'{{_base_.model}}'``)."""
    return f"""
model = dict(
    _delete_=True, type='Distiller', student={student},
    teacher=dict(config={teacher_config!r}, checkpoint={teacher_ckpt!r}),
    student_recorders={recorders!r}, teacher_recorders={recorders!r},
    distill_losses={losses!r}{extra})
"""
