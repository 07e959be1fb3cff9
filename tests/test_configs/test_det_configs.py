"""Every detection distillation config (embedded data): it builds with the
real Runner, runs a training step (every loss finite, the student updated,
the teacher not) and a prediction; the exported student loads into the
plain mmdet model with strict=True and predicts the same. The COCO configs
build with random teachers."""
import os.path as osp

import pytest
import torch
from mmengine.registry import MODELS
from mmengine.runner import Runner

from kdtools.models.distillers.export import export_student
from kdtools.models.distillers.teacher import model_cfg_from
from kdtools.utils import load_config
from conftest import CONFIGS, tiny_det_body, write_config

TOY = {
    'ld': 'det/ld/ld_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py',
    'ld-vlr': 'det/ld/ld-vlr_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py',
    'ld-vlr-kd': 'det/ld/ld-vlr-kd_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py',
    'chen17-clsreg': 'det/chen17/chen17-clsreg_gfl-mbv2_to_gfl-r18-base16_'
                     '12e_toydet.py',
    'chen17-full': 'det/chen17/chen17-full_gfl-mbv2_to_gfl-r18-base16_12e_'
                   'toydet.py',
    'chen17-two-stage': 'det/chen17/chen17_faster-rcnn-mbv2_to_faster-rcnn-'
                        'r18-base16_12e_toydet.py',
    'crosskd': 'det/crosskd/crosskd_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py',
    'pkd': 'det/pkd/pkd_fpn_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py',
    'crosskd-pkd': 'det/crosskd/crosskd-pkd_gfl-mbv2_to_gfl-r18-base16_12e_'
                   'toydet.py',
}
EXPECTED = {
    'ld': ['ld.loss_ld'],
    'ld-vlr': ['ld.loss_ld', 'ld.loss_vlr_ld'],
    'ld-vlr-kd': ['ld.loss_ld', 'ld.loss_vlr_ld', 'ld.loss_cls_kd'],
    'chen17-clsreg': ['chen17.loss_cls_kd', 'chen17.loss_bbox_kd'],
    'chen17-full': ['loss_hint_p3', 'chen17.loss_cls_kd',
                    'chen17.loss_bbox_kd'],
    'chen17-two-stage': ['loss_hint_p3', 'rpn.loss_cls_kd',
                         'rpn.loss_bbox_kd', 'rcnn.loss_cls_kd',
                         'rcnn.loss_bbox_kd'],
    'crosskd': ['crosskd.loss_cls_kd', 'crosskd.loss_reg_kd'],
    'pkd': ['loss_pkd_p3', 'loss_pkd_p4', 'loss_pkd_p5'],
    'crosskd-pkd': ['crosskd.loss_cls_kd', 'crosskd.loss_reg_kd',
                    'loss_pkd_p3'],
}


def _random_ckpt(model_cfg, path):
    model_cfg = model_cfg.copy()
    model_cfg.backbone.init_cfg = None
    torch.manual_seed(0)
    torch.save(dict(state_dict=MODELS.build(model_cfg).state_dict()), path)
    return path


def _runner(cfg, tmp_path):
    cfg.work_dir = str(tmp_path / 'work')
    return Runner.from_cfg(cfg)


@pytest.mark.parametrize('name', sorted(TOY))
def test_toy_config_trains_predicts_and_exports(name, toy_data, tmp_path):
    path = write_config(tmp_path / f'{name}.py', TOY[name],
                        tiny_det_body(toy_data))
    cfg = load_config(path)
    teacher_cfg = model_cfg_from(cfg.model.teacher.config, 'teacher')
    cfg.model.teacher.checkpoint = _random_ckpt(
        teacher_cfg, str(tmp_path / 'teacher.pth'))
    runner = _runner(cfg, tmp_path)
    model = runner.model
    optim = runner.build_optim_wrapper(cfg.optim_wrapper)
    batch = next(iter(runner.train_dataloader))
    teacher = next(iter(model.teacher_models.values()))
    t_before = [p.clone() for p in teacher.parameters()]
    s_before = [p.clone() for p in model.student.parameters()]
    model.train()
    log = model.train_step(batch, optim)
    for key in EXPECTED[name]:
        assert torch.isfinite(log[f'distill.{key}']), key
    assert all(torch.equal(a, b)
               for a, b in zip(t_before, teacher.parameters()))
    assert any(not torch.equal(a, b)
               for a, b in zip(s_before, model.student.parameters()))
    model.eval()
    preds = model.test_step(batch)
    assert len(preds) == len(batch['inputs'])

    ckpt = str(tmp_path / 'distill.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    out = str(tmp_path / 'student.pth')
    plain_cfg = load_config(export_student(path, ckpt, out))
    assert plain_cfg.model.type.endswith(('GFL', 'FasterRCNN'))
    plain = MODELS.build(plain_cfg.model)
    plain.load_state_dict(torch.load(out)['state_dict'], strict=True)
    plain.eval()
    again = plain.test_step(batch)
    for a, b in zip(preds, again):
        torch.testing.assert_close(a.pred_instances.bboxes,
                                   b.pred_instances.bboxes)


def test_mmdet_ld_peer_config_trains(toy_data, tmp_path):
    """The peer's own LD detector on the same pair (for the comparison
    rows): a training step and a prediction."""
    path = write_config(
        tmp_path / 'mmdet_ld.py',
        'det/ld/mmdet-ld_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py',
        tiny_det_body(toy_data))
    cfg = load_config(path)
    teacher_cfg = load_config(cfg.model.teacher_config).model
    cfg.model.teacher_ckpt = _random_ckpt(teacher_cfg,
                                          str(tmp_path / 't.pth'))
    runner = _runner(cfg, tmp_path)
    optim = runner.build_optim_wrapper(cfg.optim_wrapper)
    batch = next(iter(runner.train_dataloader))
    runner.model.train()
    log = runner.model.train_step(batch, optim)
    assert torch.isfinite(log['loss_ld'])
    runner.model.eval()
    assert len(runner.model.test_step(batch)) == len(batch['inputs'])


@pytest.mark.parametrize('config', [
    'det/ld/ld-vlr_gfl-r101_to_gfl-r18_1x_coco.py',
    'det/chen17/chen17_faster-rcnn_r101_to_r50_fpn_1x_coco.py'])
def test_coco_configs_build(config, tmp_path):
    cfg = load_config(osp.join(CONFIGS, config))
    assert cfg.train_dataloader.dataset.type == 'CocoDataset'
    teacher_cfg = model_cfg_from(cfg.model.teacher.config, 'teacher')
    assert teacher_cfg.backbone.depth == 101
    cfg.model.teacher.checkpoint = _random_ckpt(teacher_cfg,
                                                str(tmp_path / 't.pth'))
    cfg.model.student.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert set(model.head_distillers) >= {'ld'} or \
        set(model.head_distillers) == {'rpn', 'rcnn'}
