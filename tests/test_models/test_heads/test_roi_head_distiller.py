"""RoIHeadDistiller (two-stage Chen et al. 2017): the teacher's RoI head
runs on the student's RoIs; a teacher without a RoI head is refused."""
import os.path as osp

import pytest
import torch
from mmengine.registry import MODELS
from mmengine.runner import Runner

from kdtools.utils import load_config
from kdtools.utils.errors import ConfigError
from conftest import CONFIGS, tiny_det_body, write_config
from _helpers.heads import CHEN_2STAGE, _random_teacher


def test_teacher_roi_head_sees_the_student_rois(toy_data, tmp_path):
    path = write_config(tmp_path / 'c.py', CHEN_2STAGE,
                        tiny_det_body(toy_data))
    cfg = load_config(path)
    _, ckpt = _random_teacher(cfg, tmp_path)
    cfg.model.teacher.checkpoint = ckpt
    cfg.model.teacher_recorders['troi'] = dict(
        type='MethodInputs', source='roi_head._bbox_forward')
    cfg.work_dir = str(tmp_path / 'w')
    runner = Runner.from_cfg(cfg)
    model = runner.model
    batch = next(iter(runner.train_dataloader))
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    for key in ('rpn.loss_cls_kd', 'rpn.loss_bbox_kd', 'rcnn.loss_cls_kd',
                'rcnn.loss_bbox_kd'):
        assert torch.isfinite(losses[f'distill.{key}'])
    assert losses['distill.rcnn.loss_cls_kd'].requires_grad
    (s_args, _), = model.student_recorders['rcnn/inputs'].data
    # the last call is the distiller's (a recorder on the teacher's roi_head
    # also makes the teacher's own forward run it, on its own proposals)
    t_args, _ = model.teacher_recorders['teacher']['troi'].data[-1]
    s_rois, t_rois = s_args[1], t_args[1]
    assert s_rois.shape[1] == 5 and s_rois.shape[0] > 0
    assert torch.equal(s_rois, t_rois)  # same boxes, same order
    # the teacher's features, not the student's
    assert t_args[0][0].shape[1] == 128 and s_args[0][0].shape[1] == 64


def test_teacher_without_roi_head_is_refused(tmp_path):
    cfg = load_config(osp.join(CONFIGS, CHEN_2STAGE))
    gfl = load_config(osp.join(CONFIGS, 'det/gfl_mobilenetv2_fpn_12e_'
                               'toydet.py')).model
    gfl.backbone.init_cfg = None
    ckpt = str(tmp_path / 'gfl.pth')
    torch.save(dict(state_dict=MODELS.build(gfl).state_dict()), ckpt)
    cfg.model.teacher = dict(config=gfl, checkpoint=ckpt)
    cfg.model.pop('distill_losses')
    cfg.model.head_distillers.pop('rpn')
    with pytest.raises(ConfigError, match=r"teachers.teacher \(GFL\) has no "
                       r"'roi_head'; the student \(FasterRCNN\) has one"):
        MODELS.build(cfg.model)
