"""Detection head distillers: a tiny mmdet LDHead and a holder that makes
a head a model's ``bbox_head``; distillers built from the toy LD and
two-stage Chen et al. configs with random-weight teachers whose heads may
be changed."""
import torch
from mmdet.models.dense_heads import LDHead
from mmengine.registry import MODELS, DefaultScope
from torch import nn

from kdtools.models.distillers.teacher import model_cfg_from
from kdtools.utils import load_config

LD = 'det/ld/ld_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py'
CHEN_2STAGE = ('det/chen17/chen17_faster-rcnn-mbv2_to_faster-rcnn-r18-'
               'base16_12e_toydet.py')


class _Holder(nn.Module):
    def __init__(self, head):
        super().__init__()
        self.bbox_head = head


def _ld_head():
    with DefaultScope.overwrite_default_scope('mmdet'):
        return _make_ld_head()


def _make_ld_head():
    return LDHead(num_classes=3, in_channels=8, stacked_convs=1,
                  feat_channels=8, norm_cfg=dict(type='BN'),
                  anchor_generator=dict(type='AnchorGenerator', ratios=[1.0],
                                        octave_base_scale=4,
                                        scales_per_octave=1,
                                        strides=[8, 16]),
                  loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True,
                                beta=2.0, loss_weight=1.0),
                  loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
                  loss_ld=dict(type='KnowledgeDistillationKLDivLoss',
                               loss_weight=0.25, T=10),
                  train_cfg=dict(assigner=dict(type='ATSSAssigner', topk=9),
                                 allowed_border=-1, pos_weight=-1,
                                 debug=False))


def _random_teacher(cfg, tmp_path, **head_changes):
    tcfg = model_cfg_from(cfg.model.teacher.config, 'teacher')
    tcfg.backbone.init_cfg = None
    for key, value in head_changes.items():
        node = tcfg
        *path, last = key.split('.')
        for p in path:
            node = node[p]
        node[last] = value
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=MODELS.build(tcfg).state_dict()), ckpt)
    return tcfg, ckpt


def _build(cfg_path, tmp_path, **head_changes):
    cfg = load_config(cfg_path)
    _, ckpt = _random_teacher(cfg, tmp_path, **head_changes)
    cfg.model.teacher.checkpoint = ckpt
    cfg.model.teacher.config = model_cfg_from(cfg.model.teacher.config,
                                              'teacher')
    for key, value in head_changes.items():
        node = cfg.model.teacher.config
        *path, last = key.split('.')
        for p in path:
            node = node[p]
        node[last] = value
    cfg.model.teacher.config.backbone.init_cfg = None
    return MODELS.build(cfg.model)
