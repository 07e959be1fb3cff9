"""Input wiring: recorder paths, loss names mmengine would not sum, the
``inputs`` of a term against its loss's signature, and references to all
teachers; each refused at build time naming what the config says."""
import pytest
from mmengine.registry import MODELS

from kdtools.utils import ConfigError
from _helpers.det import build, distiller_cfg, make_teacher_ckpt


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """A random-weight GFL (MobileNetV2) teacher checkpoint."""
    return make_teacher_ckpt(tmp_path_factory)


def test_wrong_module_path_lists_closest_names(teacher_ckpt):
    with pytest.raises(ConfigError) as e:
        build(teacher_ckpt,
              student_recorders=dict(fpn=dict(type='ModuleOutputs',
                                              source='nek')))
    assert "'nek'" in str(e.value) and 'neck' in str(e.value)
    assert 'student_recorders.fpn' in str(e.value)


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


@pytest.mark.parametrize('loss, s_ref, t_ref, bad, length', [
    ('FeatureImitationLoss', 'student.fpn.4', 'teacher.fpn.0',
     'student.fpn.4', 3),
    ('FeatureImitationLoss', 'student.fpn.7', 'teacher.fpn.0',
     'student.fpn.7', 3),
    ('FeatureImitationLoss', 'student.fpn.0', 'teacher.fpn.5',
     'teacher.fpn.5', 3),
    # a term no shape check reads at build time: refused all the same
    ('PixelWiseKDLoss', 'student.fpn.4', 'teacher.fpn.0', 'student.fpn.4',
     3),
])
def test_recorder_index_out_of_range_is_build_error(teacher_ckpt, loss,
                                                    s_ref, t_ref, bad,
                                                    length):
    """``student.fpn.4`` on a 3-level FPN: a one-line ConfigError at build
    time naming the reference and the recorded length (a raw IndexError
    at build time or at iteration 1 before)."""
    cfg = distiller_cfg(teacher_ckpt)
    term = dict(type=loss, inputs=dict(preds_S=s_ref, preds_T=t_ref))
    if loss == 'FeatureImitationLoss':
        term['adapter'] = dict(type='ConvAdapter')
    cfg['distill_losses'] = dict(loss_x=term)
    with pytest.raises(ConfigError) as e:
        MODELS.build(cfg)
    msg = str(e.value)
    assert repr(bad) in msg and f'tuple of {length}' in msg, msg
    assert 'distill_losses.loss_x.inputs' in msg and '\n' not in msg


def test_loss_name_ending_in_lr_is_build_error(teacher_ckpt):
    """mmengine's LogProcessor takes every key ending in 'lr' for a
    learning rate (printed beside lr, in e-notation, unsmoothed)."""
    cfg = distiller_cfg(teacher_ckpt)
    cfg['distill_losses']['loss_hint_vlr'] = cfg['distill_losses'].pop(
        'loss_hint_p3')
    with pytest.raises(ConfigError, match='learning rate.*loss_hint_vlr'):
        MODELS.build(cfg)
