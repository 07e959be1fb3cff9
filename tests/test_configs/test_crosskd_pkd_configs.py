"""The CrossKD and PKD configs for COCO: each loads with plain
``Config.fromfile``, names the authors' teacher checkpoint by its model-zoo
URL and the authors' settings; built with ``Runner.from_cfg`` (random
teacher weights) each trains an iteration on the embedded COCO-format data
(the GFL one in the fast suite, the others marked slow: R-101 / X-101
teachers)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS
from mmengine.runner import Runner

from kdtools.datasets import DIGIT_CLASSES
from kdtools.models.distillers.teacher import model_cfg_from
from kdtools.utils.url_checkpoint import is_url
from conftest import CONFIGS

ZOO = 'https://download.openmmlab.com/mmdetection/v2.0/'
GFL = ('crosskd/crosskd_gfl-r101-ms-2x_to_gfl-r50_1x_coco.py',
       'CrossKDGFLHeadDistiller', 3,
       'gfl/gfl_r101_fpn_mstrain_2x_coco/gfl_r101_fpn_mstrain_2x_coco_'
       '20200629_200126-dd12f847.pth', 6.0)
RETINA = ('crosskd/crosskd_retinanet-r101_to_retinanet-r50_2x_coco.py',
          'CrossKDRetinaHeadDistiller', 3, 'retinanet/retinanet_r101_fpn_2x_'
          'coco/retinanet_r101_fpn_2x_coco_20200131-5560aee8.pth', 2.0)
FCOS = ('crosskd/crosskd_fcos-r101-caffe-gn-ms-2x_to_fcos-r50-caffe-gn_ms-2x_'
        'coco.py', 'CrossKDFCOSHeadDistiller', 2,
        'fcos/fcos_r101_caffe_fpn_gn-head_mstrain_640-800_2x_coco/fcos_r101_'
        'caffe_fpn_gn-head_mstrain_640-800_2x_coco-511424d6.pth', 2.0)
ATSS = ('crosskd/crosskd_atss-r101_to_atss-r50_1x_coco.py',
        'CrossKDATSSHeadDistiller', 3, 'atss/atss_r101_fpn_1x_coco/atss_r101_'
        'fpn_1x_20200825-dfcadd6f.pth', 1.0)
CROSSKD = [GFL, RETINA, FCOS, ATSS]
PKD = 'pkd/pkd_fpn_retinanet-x101-64x4d_to_retinanet-r50_2x_coco.py'


def _plus_pkd(config):
    return config.replace('crosskd/crosskd_', 'crosskd/crosskd-pkd_')


@pytest.mark.parametrize('entry', CROSSKD, ids=lambda e: e[1])
def test_crosskd_configs_carry_the_authors_settings(entry):
    config, hd_type, idx, ckpt, pkd_weight = entry
    for path, pkd in ((config, False), (_plus_pkd(config), True)):
        cfg = Config.fromfile(osp.join(CONFIGS, 'det', path))
        assert cfg.model.type == 'Distiller'
        assert cfg.model.teacher.checkpoint == ZOO + ckpt
        assert is_url(cfg.model.teacher.checkpoint)
        hd = cfg.model.head_distillers.crosskd
        assert (hd.type, hd.reused_teacher_head_idx) == (hd_type, idx)
        assert cfg.train_dataloader.dataset.type == 'CocoDataset'
        assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=16)
        losses = cfg.model.get('distill_losses') or {}
        assert bool(losses) == pkd
        if pkd:  # every FPN level, the authors' weight
            assert sorted(losses) == [f'loss_pkd_p{i}' for i in range(3, 8)]
            assert {v.loss_weight for v in losses.values()} == {pkd_weight}


def test_pkd_config_carries_the_papers_settings():
    cfg = Config.fromfile(osp.join(CONFIGS, 'det', PKD))
    assert cfg.model.teacher.checkpoint.endswith(
        'retinanet_x101_64x4d_fpn_1x_coco_20200130-366f5af1.pth')
    losses = cfg.model.distill_losses
    assert sorted(losses) == [f'loss_pkd_p{i}' for i in range(3, 7)]
    assert {(v.type, v.loss_weight) for v in losses.values()} == \
        {('PKDLoss', 10.0)}


def _on_toy_coco(cfg, toy_data):
    """The COCO config on the embedded COCO-format data (its digit classes,
    64-pixel images, one image per batch), ImageNet backbones random."""
    root = osp.join(toy_data, 'det') + '/'
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True),
                dict(type='Resize', scale=(64, 64), keep_ratio=True),
                dict(type='PackDetInputs')]
    cfg.train_dataloader.update(batch_size=2, num_workers=0,
                                persistent_workers=False)
    cfg.train_dataloader.dataset.update(
        data_root=root, ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'), metainfo=dict(classes=DIGIT_CLASSES),
        pipeline=pipeline)
    cfg.model.student.backbone.init_cfg = None
    cfg.val_dataloader = cfg.test_dataloader = None
    cfg.val_cfg = cfg.test_cfg = cfg.val_evaluator = cfg.test_evaluator = None
    return cfg


def _random_ckpt(teacher_cfg, path):
    m = model_cfg_from(teacher_cfg.config, 'teacher')
    m.backbone.init_cfg = None
    torch.manual_seed(0)
    torch.save(dict(state_dict=MODELS.build(m).state_dict()), path)
    return str(path)


def _trains_an_iteration(config, toy_data, tmp_path):
    cfg = _on_toy_coco(Config.fromfile(osp.join(CONFIGS, 'det', config)),
                       toy_data)
    cfg.model.teacher.checkpoint = _random_ckpt(cfg.model.teacher,
                                                tmp_path / 't.pth')
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    model = runner.model
    optim = runner.build_optim_wrapper(cfg.optim_wrapper)
    batch = next(iter(runner.build_dataloader(cfg.train_dataloader)))
    before = [p.clone() for p in model.student.parameters()]
    model.train()
    log = model.train_step(batch, optim)
    distill = {k: v for k, v in log.items() if k.startswith('distill.')}
    assert distill and all(torch.isfinite(v) for v in distill.values())
    assert any(not torch.equal(a, b)
               for a, b in zip(before, model.student.parameters()))
    return distill


def test_gfl_crosskd_pkd_coco_config_trains_an_iteration(toy_data, tmp_path):
    distill = _trains_an_iteration(_plus_pkd(GFL[0]), toy_data, tmp_path)
    assert {'distill.crosskd.loss_cls_kd', 'distill.crosskd.loss_reg_kd',
            'distill.loss_pkd_p3'} <= set(distill)


@pytest.mark.slow
@pytest.mark.parametrize('config', [GFL[0]] + [
    c for e in (RETINA, FCOS, ATSS) for c in (e[0], _plus_pkd(e[0]))] +
    [PKD])
def test_coco_config_trains_an_iteration(config, toy_data, tmp_path):
    _trains_an_iteration(config, toy_data, tmp_path)
