"""Loss schedules: the factor at each iteration and epoch, the student's
own losses switched on late and weighted, bad schedules refused; FSP's two
stages (FSP alone, then the task) switch where the config says, also
across a resume."""
import pytest
import torch
from mmengine.runner import Runner

from kdtools.utils import ConfigError, load_config
from conftest import write_config
from _helpers.cls import CONFIGS, _runner, cls_body
from _helpers.det import batch, build, make_teacher_ckpt


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """A random-weight GFL (MobileNetV2) teacher checkpoint."""
    return make_teacher_ckpt(tmp_path_factory)


def test_loss_schedule(teacher_ckpt):
    from kdtools.models.distillers.distiller import Distiller
    f = Distiller._schedule_factor
    sched = dict(warmup_iters=10, stop_epoch=3)
    assert f(sched, 0, 0) == pytest.approx(0.1)
    assert f(sched, 4, 0) == pytest.approx(0.5)
    assert f(sched, 50, 2) == 1.0
    assert f(sched, 50, 3) == 0.0
    assert f(dict(start_iter=5), 4, 0) == 0.0
    assert f(dict(stop_iter=7), 7, 0) == 0.0
    with pytest.raises(ConfigError, match='loss_schedules'):
        build(teacher_ckpt, loss_schedules=dict(loss_nope=dict()))
    assert f(dict(start_epoch=2), 99, 1) == 0.0
    assert f(dict(start_epoch=2), 0, 2) == 1.0
    with pytest.raises(ConfigError, match=r'loss_schedules.student: unknown '
                       r"keys \['start_epochs'\]"):
        build(teacher_ckpt, loss_schedules=dict(student=dict(
            start_epochs=2)))
    with pytest.raises(ConfigError, match='stop_epoch=-1; expected an '
                       'integer >= 0'):
        build(teacher_ckpt, loss_schedules=dict(loss_hint_p3=dict(
            stop_epoch=-1)))


def test_student_loss_schedule_and_weight(teacher_ckpt):
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    model = build(teacher_ckpt,
                  loss_schedules=dict(student=dict(start_epoch=1)))
    data = model.data_preprocessor(batch(), True)
    model.train()
    hub.update_info('epoch', 0)
    try:
        losses = model.loss(data['inputs'], data['data_samples'])
        # the task is off: only the distillation terms, no student losses
        assert not [k for k in losses if k.startswith('student.')]
        assert losses['distill.loss_hint_p3'] > 0
        hub.update_info('epoch', 1)
        losses = model.loss(data['inputs'], data['data_samples'])
        assert sum(losses['student.loss_cls']) > 0
    finally:
        hub.update_info('epoch', 0)
    half = build(teacher_ckpt, student_loss_weight=0.5)
    full = build(teacher_ckpt)
    full.load_state_dict(half.state_dict())
    a = half.loss(data['inputs'], data['data_samples'])
    b = full.loss(data['inputs'], data['data_samples'])
    for key in ('student.loss_bbox', 'student.loss_dfl'):
        va, vb = a[key], b[key]
        va = sum(va) if isinstance(va, list) else va
        vb = sum(vb) if isinstance(vb, list) else vb
        assert torch.allclose(va, 0.5 * vb)
    with pytest.raises(ConfigError, match='student_loss_weight=-1'):
        build(teacher_ckpt, student_loss_weight=-1)


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _changed(before, module):
    return any(not torch.equal(a, b)
               for a, b in zip(before, module.parameters()))


def test_fsp_stage1_trains_only_what_fsp_reaches_then_switches_and_resumes(
        toy_data, teacher_ckpts, tmp_path):
    # tiny data: 1 epoch of stage 1, then stage 2, 3 epochs in all
    extra = ("model.update(loss_schedules=dict(student=dict(start_epoch=1), "
             "loss_fsp_stage1=dict(stop_epoch=1), "
             "loss_fsp_stage2=dict(stop_epoch=1), "
             "loss_fsp_stage3=dict(stop_epoch=1)))\n"
             "param_scheduler = [dict(type='ConstantLR', factor=1.0, "
             "by_epoch=False)]\n")
    path, cfg, runner = _runner('fsp', toy_data, teacher_ckpts, tmp_path,
                                max_epochs=1, extra=extra)
    model = runner.model
    model.init_weights()  # what runner.train() does first (once only)
    head, backbone = _params(model.student.head), \
        _params(model.student.backbone)
    teacher = next(iter(model.teacher_models.values()))
    t_before = _params(teacher)
    runner.train()
    # stage 1: FSP alone trains the backbone; the head is untouched
    assert _changed(backbone, model.student.backbone)
    assert not _changed(head, model.student.head)
    assert not _changed(t_before, teacher)
    log = runner.message_hub.get_scalar('train/distill.loss_fsp_stage1')
    assert log.current() > 0
    assert 'train/student.loss' not in runner.message_hub.log_scalars or \
        runner.message_hub.get_scalar('train/student.loss').current() == 0

    # resume from the epoch-1 checkpoint and go on to epoch 3: stage 2
    cfg2 = load_config(write_config(
        tmp_path / 'fsp2.py', CONFIGS['fsp'],
        cls_body(toy_data, CONFIGS['fsp'], teacher_ckpts, max_epochs=3,
                 extra=extra)))
    cfg2.work_dir = cfg.work_dir
    cfg2.resume = True
    runner2 = Runner.from_cfg(cfg2)
    runner2.train()
    assert runner2.epoch == 3
    hub = runner2.message_hub
    assert hub.get_scalar('train/distill.loss_fsp_stage1').current() == 0
    assert hub.get_scalar('train/student.loss').current() > 0
    assert _changed(head, runner2.model.student.head)


def test_fsp_stage_switch_by_progress(toy_data, teacher_ckpts, tmp_path):
    from mmengine.logging import MessageHub
    _, _, runner = _runner('fsp', toy_data, teacher_ckpts, tmp_path)
    model = runner.model
    batch = next(iter(runner.train_dataloader))
    data = model.data_preprocessor(batch, True)
    hub = MessageHub.get_current_instance()
    start = model.student_schedule['start_epoch']
    for epoch, stage in ((0, 1), (start - 1, 1), (start, 2)):
        hub.update_info('epoch', epoch)
        losses = model.loss(data['inputs'], data['data_samples'])
        fsp = losses['distill.loss_fsp_stage1']
        if stage == 1:
            assert fsp.item() > 0 and 'student.loss' not in losses
        else:
            assert fsp.item() == 0 and losses['student.loss'].item() > 0
    hub.update_info('epoch', 0)
