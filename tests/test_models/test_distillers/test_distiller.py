"""The distillation engine: frozen teachers, recorders, adapters, loss
wiring, checkpoints and export (CPU, real mmdet models)."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS

from kdtools.utils import CheckpointError, ConfigError, load_config
from conftest import CONFIGS

HINT = osp.join(CONFIGS, 'det/hint/hint_fpn_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py')
TEACHER = osp.join(CONFIGS, 'det/gfl_mobilenetv2_fpn_12e_toydet.py')


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """A teacher checkpoint in mmengine's format (random weights: these
    tests check behaviour, not quality)."""
    torch.manual_seed(0)
    cfg = load_config(TEACHER)
    cfg.model.backbone.init_cfg = None  # random weights, no file needed
    model = MODELS.build(cfg.model)
    model.init_weights()
    # make BN statistics non-trivial so that a moving BN would show
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.9, 1.1)
    path = str(tmp_path_factory.mktemp('teacher') / 'teacher.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(epoch=12, seed=np.int64(0))), path)
    return path


def distiller_cfg(teacher_ckpt, **changes):
    cfg = load_config(HINT)
    model = copy.deepcopy(cfg.model.to_dict())
    model['teacher']['checkpoint'] = teacher_ckpt
    for k, v in changes.items():
        model[k] = v
    return model


def build(teacher_ckpt, **changes):
    return MODELS.build(distiller_cfg(teacher_ckpt, **changes))


def batch(n=2, size=64, seed=0):
    """A detection batch as the dataloader gives it."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(n):
        inputs.append((torch.rand(3, size, size, generator=g) * 255).byte())
        s = DetDataSample(metainfo=dict(img_shape=(size, size),
                                        ori_shape=(size, size),
                                        pad_shape=(size, size),
                                        scale_factor=(1.0, 1.0)))
        s.gt_instances = InstanceData(
            bboxes=torch.tensor([[4., 6., 30., 40.], [20., 10., 60., 50.]]),
            labels=torch.tensor([1, 3]))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def train_steps(model, n=2):
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    model.train()
    logs = []
    for i in range(n):
        MessageHub.get_current_instance().update_info('iter', i)
        logs.append(model.train_step(batch(seed=i), wrapper))
    return logs


def test_teacher_frozen_bit_identical_and_gradients_reach_student_only(
        teacher_ckpt):
    model = build(teacher_ckpt)
    (teacher, ) = model.teacher_models.values()
    saved = torch.load(teacher_ckpt, weights_only=False)['state_dict']
    assert all(not p.requires_grad for p in teacher.parameters())
    logs = train_steps(model, n=3)
    assert set(logs[0]) >= {'loss', 'distill.loss_hint_p3',
                            'student.loss_cls'}
    # still eval after the Runner's train() flips modes
    assert not teacher.training and model.student.training
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, saved[k]), k
    # one more step by hand, to look at the gradients before zero_grad
    losses = model.loss(**model.data_preprocessor(batch(), True))
    model.parse_losses(losses)[0].backward()
    assert all(p.grad is None for p in teacher.parameters())
    for name, p in model.adapters.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    grads = [p.grad for p in model.student.backbone.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_inplace_activations_switched_off(teacher_ckpt):
    model = build(teacher_ckpt)
    (teacher, ) = model.teacher_models.values()
    relus = [m for m in teacher.modules() if isinstance(m, torch.nn.ReLU)]
    assert relus and not any(m.inplace for m in relus)


def test_teacher_not_in_state_dict_or_optimizer(teacher_ckpt):
    model = build(teacher_ckpt)
    keys = list(model.state_dict())
    assert keys and all(k.startswith(('student.', 'adapters.')) for k in keys)
    n_params = sum(p.numel() for p in model.parameters())
    n_student = sum(p.numel() for p in model.student.parameters())
    n_adapter = sum(p.numel() for p in model.adapters.parameters())
    assert n_params == n_student + n_adapter


def test_adapters_inferred_channels(teacher_ckpt):
    model = build(teacher_ckpt)
    conv = model.adapters['loss_hint_p3']['teacher'].conv
    assert (conv.in_channels, conv.out_channels) == (64, 128)


def test_feature_imitation_matches_formula(teacher_ckpt):
    model = build(teacher_ckpt)
    model.eval()
    data = model.data_preprocessor(batch(), True)
    with torch.no_grad():
        losses = model.loss(**data)
        s = model.student_recorders['fpn'].get()[0]
        t = model.teacher_recorders['teacher']['fpn'].get()[0]
        adapted = model.adapters['loss_hint_p3']['teacher'](s, t)
        expected = ((adapted - t)**2).mean()
    assert torch.allclose(losses['distill.loss_hint_p3'], expected)


def test_predict_and_tensor_are_the_students(teacher_ckpt):
    model = build(teacher_ckpt)
    model.eval()
    data = model.data_preprocessor(batch(), False)
    with torch.no_grad():
        a = model(**data, mode='predict')
        b = model.student(**data, mode='predict')
    assert torch.equal(a[0].pred_instances.scores, b[0].pred_instances.scores)


def test_two_teachers_mean_and_weights(teacher_ckpt):
    cfg = distiller_cfg(teacher_ckpt)
    t = cfg.pop('teacher')
    cfg['teachers'] = dict(a=t, b=copy.deepcopy(t))
    model = MODELS.build(cfg)
    assert set(model.teacher_recorders) == {'a', 'b'}
    assert set(model.adapters['loss_hint_p3']) == {'a', 'b'}
    model.eval()
    data = model.data_preprocessor(batch(), True)
    with torch.no_grad():
        losses = model.loss(**data)
        s = model.student_recorders['fpn'].get()[0]
        per = []
        for name in ('a', 'b'):
            tf = model.teacher_recorders[name]['fpn'].get()[0]
            ad = model.adapters['loss_hint_p3'][name](s, tf)
            per.append(((ad - tf)**2).mean())
    assert torch.allclose(losses['distill.loss_hint_p3'], (per[0] + per[1]) / 2)
    cfg['teacher_weights'] = dict(a=3.0, b=1.0)
    weighted = MODELS.build(cfg)
    assert weighted.teacher_weights == {'a': 0.75, 'b': 0.25}


def test_wrong_module_path_lists_closest_names(teacher_ckpt):
    with pytest.raises(ConfigError) as e:
        build(teacher_ckpt,
              student_recorders=dict(fpn=dict(type='ModuleOutputs',
                                              source='nek')))
    assert "'nek'" in str(e.value) and 'neck' in str(e.value)
    assert 'student_recorders.fpn' in str(e.value)


def test_shape_mismatch_shows_both_shapes(teacher_ckpt):
    cfg = distiller_cfg(teacher_ckpt)
    cfg['distill_losses']['loss_hint_p3']['inputs']['preds_T'] = \
        'teacher.fpn.1'
    cfg['distill_losses']['loss_hint_p3']['adapter'] = dict(
        type='ConvAdapter', align='none')
    with pytest.raises(ConfigError) as e:
        MODELS.build(cfg)
    msg = str(e.value)
    assert 'student.fpn.0' in msg and 'teacher.fpn.1' in msg
    assert '(1, 64, 16, 16)' in msg and '(1, 128, 8, 8)' in msg


def test_mismatched_teacher_checkpoint_refused(teacher_ckpt, tmp_path):
    state = torch.load(teacher_ckpt, weights_only=False)['state_dict']
    bad = dict(state)
    bad.pop('bbox_head.gfl_cls.weight')
    bad['backbone.conv1.weight'] = torch.zeros(1)
    bad['extra.weight'] = torch.zeros(1)
    path = str(tmp_path / 'bad.pth')
    torch.save(dict(state_dict=bad), path)
    with pytest.raises(CheckpointError) as e:
        build(path)
    msg = str(e.value)
    assert 'bbox_head.gfl_cls.weight' in msg and 'extra.weight' in msg
    assert 'backbone.conv1.weight' in msg and 'teachers.teacher' in msg
    with pytest.raises(CheckpointError, match='does not exist'):
        build(str(tmp_path / 'missing.pth'))


def test_dropped_loss_key_is_build_error(teacher_ckpt):
    cfg = distiller_cfg(teacher_ckpt)
    cfg['distill_losses']['hint_p3'] = cfg['distill_losses'].pop(
        'loss_hint_p3')
    with pytest.raises(ConfigError, match='silently not trained'):
        MODELS.build(cfg)


def test_wiring_checked_against_signature(teacher_ckpt):
    cfg = distiller_cfg(teacher_ckpt)
    cfg['distill_losses']['loss_hint_p3']['inputs'] = dict(
        preds_S='student.fpn.0', target='teacher.fpn.0')
    with pytest.raises(ConfigError) as e:
        MODELS.build(cfg)
    assert "no argument ['target']" in str(e.value)
    assert "['preds_T'] not wired" in str(e.value)
    cfg['distill_losses']['loss_hint_p3']['inputs'] = dict(
        preds_S='student.fpm.0', preds_T='teacher.fpn.0')
    with pytest.raises(ConfigError, match="student recorder 'fpm'"):
        MODELS.build(cfg)


def test_nan_loss_stops_with_name_and_iteration(teacher_ckpt):
    model = build(teacher_ckpt)
    with torch.no_grad():
        model.adapters['loss_hint_p4']['teacher'].conv.weight.fill_(
            float('nan'))
    MessageHub.get_current_instance().update_info('iter', 41)
    data = model.data_preprocessor(batch(), True)
    with pytest.raises(FloatingPointError) as e:
        model.loss(**data)
    assert "'loss_hint_p4'" in str(e.value) and 'iteration 41' in str(e.value)


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


def test_all_teachers_input_refs(teacher_ckpt):
    loss = dict(type='FeatureImitationLoss',
                inputs=dict(preds_S='student.fpn.0', preds_T='teachers.fpn.0'))
    with pytest.raises(ConfigError, match='only "teacher:" names one'):
        build(teacher_ckpt, distill_losses=dict(loss_x=dict(
            loss, inputs=dict(preds_S='student.fpn.0',
                              preds_T='teachers:teacher.fpn.0'))))
    with pytest.raises(ConfigError, match='mixes "teacher."'):
        build(teacher_ckpt, distill_losses=dict(loss_x=dict(
            type='FSPLoss', inputs=dict(
                s_first='student.fpn.0', s_second='student.fpn.1',
                t_first='teacher.fpn.0', t_second='teachers.fpn.1'))))


def test_plain_student_checkpoint_initialises_student(teacher_ckpt,
                                                      tmp_path):
    from mmengine.runner import load_checkpoint
    model = build(teacher_ckpt)
    plain = MODELS.build(load_config(osp.join(
        CONFIGS, 'det/gfl_r18-base16_fpn_12e_toydet.py')).model)
    plain.init_weights()
    path = str(tmp_path / 'student.pth')
    torch.save(dict(state_dict=plain.state_dict()), path)
    load_checkpoint(model, path, strict=False)
    for k, v in plain.state_dict().items():
        assert torch.equal(model.student.state_dict()[k], v), k


def test_teacher_runs_only_as_far_as_recorders_need(teacher_ckpt):
    model = build(teacher_ckpt)
    (teacher, ) = model.teacher_models.values()
    calls = []
    teacher.bbox_head.register_forward_hook(lambda *a: calls.append('head'))
    teacher.neck.register_forward_hook(lambda *a: calls.append('neck'))
    model.train()
    model.loss(**model.data_preprocessor(batch(), True))
    assert calls == ['neck']  # backbone + neck, never the head


def test_class_count_mismatch_names_both_sides(teacher_ckpt):
    cfg = distiller_cfg(teacher_ckpt)
    cfg['student']['bbox_head']['num_classes'] = 5
    cfg['student_recorders'] = dict(cls='bbox_head.gfl_cls')
    cfg['teacher_recorders'] = dict(cls='bbox_head.gfl_cls')
    cfg['distill_losses'] = dict(loss_cls_kd=dict(
        type='FeatureImitationLoss',
        inputs=dict(preds_S=dict(ref='student.cls', call=0),
                    preds_T=dict(ref='teacher.cls', call=0))))
    with pytest.raises(ConfigError) as e:
        MODELS.build(cfg)
    msg = str(e.value)
    assert '(1, 5, 16, 16)' in msg and '(1, 10, 16, 16)' in msg
    assert 'class counts' in msg and 'loss_cls_kd' in msg


def test_term_set_to_none_is_switched_off(teacher_ckpt):
    cfg = distiller_cfg(teacher_ckpt)
    cfg['distill_losses']['loss_hint_p4'] = None
    model = MODELS.build(cfg)
    losses = train_steps(model, n=1)[0]
    assert 'distill.loss_hint_p3' in losses
    assert not any('hint_p4' in k for k in losses)
    assert len(model.adapters) == len(cfg['distill_losses']) - 1
