"""CrossKD head distillers (GFL, RetinaNet, FCOS, ATSS): their losses on
fixed head inputs equal the authors' code as transcribed in
``_helpers/crosskd.py`` (golden values), the teacher's layers get no
gradient while the student's tower before the reused depth does, and bad
pairs are refused in one line."""
import pytest
import torch

from kdtools.models.heads import (CrossKDATSSHeadDistiller,
                                  CrossKDFCOSHeadDistiller,
                                  CrossKDGFLHeadDistiller,
                                  CrossKDRetinaHeadDistiller)
from kdtools.utils.errors import ConfigError
from _helpers.crosskd import (authors_atss_losses, authors_cross,
                              authors_fcos_losses, authors_gfl_losses,
                              authors_retina_losses, feats, make_head,
                              record, samples)

DISTILLERS = dict(gfl=CrossKDGFLHeadDistiller,
                  retina=CrossKDRetinaHeadDistiller,
                  fcos=CrossKDFCOSHeadDistiller,
                  atss=CrossKDATSSHeadDistiller)


def _case(family, idx, head_changes=None, **hd_kwargs):
    """Student and teacher heads of one family (teacher: other weights),
    fixed features, the head distiller's losses and the authors'."""
    head_changes = head_changes or {}
    s_head = make_head(family, seed=0, **head_changes)
    t_head = make_head(family, seed=1, **head_changes)
    hd = DISTILLERS[family](reused_teacher_head_idx=idx, **hd_kwargs)
    s_feats, t_feats = feats(8, 2), feats(8, 3)
    data = samples()
    student, teacher, s_rec, t_rec, _ = record(hd, s_head, t_head, s_feats,
                                               t_feats, data)
    hd.check(student, teacher, 'teacher', 'test')
    ours = hd.loss(s_rec, t_rec, teacher, data)
    tea, cross = authors_cross(family, s_head, t_head, s_feats, t_feats, idx)
    targets = s_rec['targets']
    sizes = [f.shape[-2:] for f in s_feats]
    if family == 'gfl':
        theirs = authors_gfl_losses(s_head, tea, cross, targets)
    elif family == 'retina':
        theirs = authors_retina_losses(s_head, tea, cross, targets, sizes)
    elif family == 'atss':
        theirs = authors_atss_losses(s_head, tea, cross, targets)
    else:
        theirs = authors_fcos_losses(s_head, tea, cross, targets, sizes)
    return hd, s_head, t_head, ours, theirs


@pytest.mark.parametrize('family,idx,head_changes', [
    ('gfl', 1, None), ('gfl', 0, None), ('gfl', 2, None),
    ('retina', 1, None), ('atss', 1, None), ('fcos', 1, None),
    ('fcos', 2, dict(norm_on_bbox=True, centerness_on_reg=True))])
def test_losses_equal_the_authors_code(family, idx, head_changes):
    """Golden values: the same heads, features and assignment give the
    losses of the authors' per-level code (held tower feature, align_scale,
    ReLU, the teacher's remaining convs, Scale and output transform, their
    loss functions and normalisers)."""
    _, _, _, ours, theirs = _case(family, idx, head_changes)
    assert set(ours) == set(theirs)
    for key in theirs:
        torch.testing.assert_close(ours[key], theirs[key], rtol=1e-5,
                                   atol=1e-7)
        assert theirs[key] > 0, key


def test_gradient_reaches_the_student_through_frozen_teacher_layers():
    """The KD terms alone: the student's convs before the reused depth get
    a gradient, its later layers none; the teacher's parameters get none
    (they require none)."""
    _, s_head, t_head, ours, _ = _case('gfl', 1)
    s_head.zero_grad()
    sum(ours.values()).backward()
    assert all(p.grad is None and not p.requires_grad
               for p in t_head.parameters())
    assert s_head.cls_convs[0].conv.weight.grad.abs().sum() > 0
    assert s_head.reg_convs[0].conv.weight.grad.abs().sum() > 0
    for later in (s_head.cls_convs[1], s_head.reg_convs[1], s_head.gfl_cls,
                  s_head.gfl_reg, s_head.scales):
        assert all(p.grad is None for p in later.parameters())


def test_box_terms_accept_other_class_counts_cls_terms_refuse_them():
    """A teacher with 5 classes for a 3-class student: the regression term
    alone builds and runs (its weights read the teacher's own top score);
    with the classification term it is refused, naming both counts."""
    s_head, t_head = make_head('gfl'), make_head('gfl', num_classes=5)
    data = samples()
    hd = CrossKDGFLHeadDistiller(loss_cls_kd=None, reused_teacher_head_idx=1)
    student, teacher, s_rec, t_rec, _ = record(hd, s_head, t_head,
                                               feats(8, 2), feats(8, 3), data)
    hd.check(student, teacher, 'teacher', 'head_distillers.crosskd')
    assert set(hd.loss(s_rec, t_rec, teacher, data)) == {'loss_reg_kd'}
    with pytest.raises(ConfigError) as e:
        CrossKDGFLHeadDistiller(reused_teacher_head_idx=1).check(
            student, teacher, 'teacher', 'head_distillers.crosskd')
    msg = str(e.value)
    assert '\n' not in msg
    assert 'loss_cls_kd' in msg and '3 classes' in msg and \
        "teachers.teacher's 5" in msg


def test_widths_need_an_adapter_and_train_it():
    """A 16-channel teacher head for an 8-channel student: refused naming
    both widths; with ``adapter`` a trainable 1x1 conv per branch maps the
    student's features, and it gets a gradient."""
    s_head = make_head('gfl')
    t_head = make_head('gfl', width=16)
    data = samples()
    hd = CrossKDGFLHeadDistiller(reused_teacher_head_idx=1)
    student, teacher, s_rec, t_rec, _ = record(hd, s_head, t_head,
                                               feats(8, 2), feats(16, 3),
                                               data)
    with pytest.raises(ConfigError, match=r'8 channels, teachers.teacher\'s '
                       r'16; add adapter'):
        hd.check(student, teacher, 'teacher', 'test')
    hd = CrossKDGFLHeadDistiller(reused_teacher_head_idx=1,
                                 adapter=dict(type='ConvAdapter'))
    hd.check(student, teacher, 'teacher', 'test')
    losses = hd.loss(s_rec, t_rec, teacher, data)
    sum(losses.values()).backward()
    conv = hd.adapters['teacher']['cls'].conv
    assert (conv.in_channels, conv.out_channels) == (8, 16)
    assert conv.weight.grad.abs().sum() > 0


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match='reused_teacher_head_idx=-1'):
        CrossKDGFLHeadDistiller(reused_teacher_head_idx=-1)
    with pytest.raises(ConfigError, match='no loss configured'):
        CrossKDGFLHeadDistiller(loss_cls_kd=None, loss_reg_kd=None)
    hd = CrossKDGFLHeadDistiller(reused_teacher_head_idx=3)
    from _helpers.crosskd import Holder
    with pytest.raises(ConfigError, match=r'reused_teacher_head_idx=3 but '
                       r'the student head has stacked_convs=2'):
        hd.check(Holder(make_head('gfl')), Holder(make_head('gfl')),
                 'teacher', 'test')
    with pytest.raises(ConfigError, match=r'needs GFL heads; the teachers.'
                       r'teacher head is RetinaHead'):
        CrossKDGFLHeadDistiller(reused_teacher_head_idx=1).check(
            Holder(make_head('gfl')), Holder(make_head('retina')),
            'teacher', 'test')
    with pytest.raises(ConfigError, match=r'reg_max: student 8 vs teacher '
                       r'16'):
        CrossKDGFLHeadDistiller(reused_teacher_head_idx=1).check(
            Holder(make_head('gfl')), Holder(make_head('gfl', reg_max=16)),
            'teacher', 'test')
