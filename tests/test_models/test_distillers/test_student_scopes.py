"""A user's stock mmdet config (``default_scope='mmdet'``, bare names) as
the student, unchanged, in both directions: the distillation config
inherits it (``_base_ = ['my_retinanet.py']``, ``student={{_base_.model}}``)
or names it (``student=dict(config='my_retinanet.py')``); built with plain
mmengine (``Config.fromfile`` + ``Runner.from_cfg``, as users' scripts and
mim do) and through kdtools' own tools, it trains a step with the embedded
GFL teacher (a kdtools config, kdtools' scope). A type no scope in reach
has is a one-line error naming the prefix that fixes it."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from kdtools.engine.runner_utils import build_runner
from kdtools.utils import ConfigError, load_config
from _helpers.stock import (GFL_TEACHER, distill_body, random_teacher_ckpt,
                            write_stock_retinanet)

HINT = dict(loss_hint=dict(
    type='FeatureImitationLoss',
    inputs=dict(preds_S='student.fpn.0', preds_T='teacher.fpn.0'),
    adapter=dict(type='ConvAdapter')))
FPN = dict(fpn=dict(type='ModuleOutputs', source='neck'))


@pytest.fixture(scope='module')
def stock(toy_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('stock_student')
    student = write_stock_retinanet(tmp / 'my_retinanet.py', toy_data)
    ckpt = random_teacher_ckpt(GFL_TEACHER, tmp / 'teacher.pth')
    return tmp, student, ckpt


def _distill_config(tmp, student, ckpt, how, extra='', entry=None):
    entry = entry or ('{{_base_.model}}' if how == 'inherit'
                      else repr(dict(config=student)))
    path = tmp / f'distill_{how}{abs(hash(extra))}.py'
    with open(path, 'w') as f:
        f.write(f"_base_ = [{osp.basename(student)!r}]\n" +
                distill_body(entry, GFL_TEACHER, ckpt, HINT, FPN) + extra)
    return str(path)


def _train_one_step(cfg, work_dir):
    cfg.work_dir = str(work_dir)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


@pytest.mark.parametrize('how, scope_line, hooks', [
    ('inherit', '', True),          # the config stays in mmdet's scope
    ('named', '', False),
    ('inherit', "default_scope = 'kdtools'", False),
])
def test_stock_mmdet_student_with_plain_mmengine(stock, tmp_path, how,
                                                 scope_line, hooks):
    from mmdet.models.detectors import RetinaNet
    from mmdet.models.losses import FocalLoss
    tmp, student, ckpt = stock
    extra = scope_line + '\n'
    if hooks:
        extra += "custom_hooks = [dict(type='TeacherEvalHook')]\n"
    cfg = Config.fromfile(_distill_config(tmp, student, ckpt, how, extra))
    runner = _train_one_step(cfg, tmp_path / 'work')
    model = runner.model
    assert type(model).__name__ == 'Distiller'
    assert type(model.student) is RetinaNet
    assert type(model.student.bbox_head.loss_cls) is FocalLoss
    (teacher, ) = model.teacher_models.values()
    assert type(teacher).__name__ == 'GFL'
    logged = runner.message_hub.log_scalars
    assert {'train/distill.loss_hint', 'train/student.loss_cls'} <= \
        set(logged)
    if hooks:  # the teacher was evaluated
        assert osp.isfile(osp.join(cfg.work_dir, 'teacher_eval.json'))


def test_stock_mmdet_student_through_kdtools_tools(stock, tmp_path):
    tmp, student, ckpt = stock
    cfg = load_config(_distill_config(tmp, student, ckpt, 'inherit'))
    cfg.work_dir = str(tmp_path / 'work')
    runner = build_runner(cfg)
    runner.train()
    assert type(runner.model.student).__name__ == 'RetinaNet'


def test_type_of_another_library_is_one_line_error_naming_the_prefix(
        stock, tmp_path):
    tmp, student, ckpt = stock
    # mmseg's segmentor written bare in a config in mmdet's scope
    path = _distill_config(tmp, student, ckpt, 'inherit', '# x',
                           entry="dict(type='EncoderDecoder')")
    cfg = load_config(path)
    cfg.work_dir = str(tmp_path / 'work')
    with pytest.raises(ConfigError) as e:
        build_runner(cfg)
    msg = str(e.value)
    assert 'student' in msg and "'mmseg.EncoderDecoder'" in msg
    assert '\n' not in msg


def test_hook_of_another_library_is_one_line_error_naming_the_prefix(
        stock, tmp_path):
    """Outside the Distiller too (the Runner's hooks): mmengine's
    'X is not in the mmdet::hook registry' becomes one line saying which
    prefix fixes it."""
    tmp, student, ckpt = stock
    path = _distill_config(
        tmp, student, ckpt, 'inherit',
        "custom_hooks = [dict(type='SegVisualizationHook')]\n")
    cfg = load_config(path)
    cfg.work_dir = str(tmp_path / 'work')
    with pytest.raises(ConfigError) as e:
        build_runner(cfg)
    msg = str(e.value)
    assert "'mmseg.SegVisualizationHook'" in msg and '\n' not in msg
