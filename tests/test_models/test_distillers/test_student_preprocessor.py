"""The student's own data preprocessor wins. mmseg's ``_base_/models/*.py``
define a top-level ``data_preprocessor`` (without the crop ``size`` a
user's config gives its model); mmengine's Runner hands that one to the
model it builds, the Distiller. A stock-style DeepLabV3+ on mmseg's
packaged base, inherited as the student, keeps its ``size`` and trains
(before: mmseg's ``AssertionError: only one of size and size_divisor should
be valid`` at iteration 1)."""
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from _helpers.stock import (PSP_TEACHER, distill_body, random_teacher_ckpt,
                            write_stock_deeplabv3plus)

PIXEL = dict(loss_pixel=dict(
    type='PixelWiseKDLoss', loss_weight=10.0,
    inputs=dict(preds_S='student.logits', preds_T='teacher.logits')))
LOGITS = dict(logits=dict(type='MethodOutputs',
                          source='decode_head.forward'))


@pytest.fixture(scope='module')
def deeplab(toy_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('stock_seg')
    student = write_stock_deeplabv3plus(tmp / 'my_deeplabv3plus.py',
                                        toy_data)
    ckpt = random_teacher_ckpt(PSP_TEACHER, tmp / 'teacher.pth')
    return tmp, student, ckpt


def test_student_preprocessor_wins_over_the_configs_top_level_one(
        deeplab, tmp_path):
    tmp, student, ckpt = deeplab
    path = tmp / 'pixel.py'
    with open(path, 'w') as f:
        f.write("_base_ = ['my_deeplabv3plus.py']\n" + distill_body(
            '{{_base_.model}}', PSP_TEACHER, ckpt, PIXEL, LOGITS))
    cfg = Config.fromfile(str(path))
    assert 'size' not in cfg.data_preprocessor  # mmseg's base's
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    assert runner.model.student.data_preprocessor.size == (64, 64)
    runner.train()  # one step
    assert 'train/distill.loss_pixel' in runner.message_hub.log_scalars
