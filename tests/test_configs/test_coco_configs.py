"""The COCO configs for users with COCO on disk: they load, inherit mmdet's
configs in mmdet's scope, and the distiller builds (random teacher weights,
no data needed)."""
import os.path as osp

import torch
from mmengine.registry import MODELS

from kdtools.utils import load_config
from conftest import CONFIGS

HINT = osp.join(CONFIGS, 'det/hint/hint_fpn_gfl-r101_to_gfl-r18_1x_coco.py')


def test_coco_hint_config_builds(tmp_path):
    cfg = load_config(HINT)
    assert cfg.default_scope == 'kdtools'
    assert cfg.train_dataloader.dataset.type == 'CocoDataset'
    assert cfg.train_dataloader.dataset._scope_ == 'mmdet'
    assert cfg.model.student.backbone.depth == 18
    from kdtools.models.distillers.teacher import model_cfg_from
    teacher_cfg = model_cfg_from(cfg.model.teacher.config, 'teacher')
    assert teacher_cfg._scope_ == 'mmdet'
    assert teacher_cfg.backbone.depth == 101
    teacher = MODELS.build(teacher_cfg)
    ckpt = str(tmp_path / 'r101.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    model_cfg = cfg.model.copy()
    model_cfg.teacher.checkpoint = ckpt
    model_cfg.student.backbone.init_cfg = None
    model = MODELS.build(model_cfg)
    conv = model.adapters['loss_hint_p3']['teacher'].conv
    assert (conv.in_channels, conv.out_channels) == (256, 256)
    assert len(model.adapters) == 5
