"""The Distiller as a whole, on the hint-KD detection config (CPU, real
mmdet models): the frozen teacher and where the gradients go, what its
state dict holds, the distillation loss against its formula, prediction by
the student, several teachers, a NaN loss, a plain student checkpoint and
a term switched off."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.registry import MODELS

from kdtools.utils import load_config
from conftest import CONFIGS
from _helpers.det import (batch, build, distiller_cfg, make_teacher_ckpt,
                          train_steps)


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """A random-weight GFL (MobileNetV2) teacher checkpoint."""
    return make_teacher_ckpt(tmp_path_factory)


def test_teacher_frozen_bit_identical_and_gradients_reach_student_only(
        teacher_ckpt):
    # its BNs not folded: its weights are the checkpoint's, bit for bit
    model = build(teacher_ckpt, teacher_fuse_conv_bn=False)
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


def test_teacher_not_in_state_dict_or_optimizer(teacher_ckpt):
    model = build(teacher_ckpt)
    keys = list(model.state_dict())
    assert keys and all(k.startswith(('student.', 'adapters.')) for k in keys)
    n_params = sum(p.numel() for p in model.parameters())
    n_student = sum(p.numel() for p in model.student.parameters())
    n_adapter = sum(p.numel() for p in model.adapters.parameters())
    assert n_params == n_student + n_adapter


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


def test_term_set_to_none_is_switched_off(teacher_ckpt):
    cfg = distiller_cfg(teacher_ckpt)
    cfg['distill_losses']['loss_hint_p4'] = None
    model = MODELS.build(cfg)
    losses = train_steps(model, n=1)[0]
    assert 'distill.loss_hint_p3' in losses
    assert not any('hint_p4' in k for k in losses)
    assert len(model.adapters) == len(cfg['distill_losses']) - 1
