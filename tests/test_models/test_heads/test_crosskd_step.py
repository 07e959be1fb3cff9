"""A GFL CrossKD step of the Distiller (the embedded-data config) equals,
loss for loss and gradient for gradient, a step written out by hand with
the same modules: the teacher's forward, the student's forward and its own
GFL losses, the cross-head path (adapter, align_scale, ReLU, the teacher's
last tower conv, its predictors and Scales) and the authors' KD losses."""
import copy

import torch
from mmdet.models.utils import unpack_gt_instances
from mmengine.registry import MODELS
from mmengine.runner import Runner

from kdtools.utils import load_config
from conftest import tiny_det_body, write_config
from _helpers.crosskd import (authors_gfl_losses, authors_preds,
                              authors_reuse, authors_tower)
from _helpers.heads import _random_teacher

CROSSKD = 'det/crosskd/crosskd_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py'


def _sum(value):
    return sum(value) if isinstance(value, (list, tuple)) else value


def _hand_step(model, inputs, data_samples):
    """The CrossKD step written out: what the Distiller's loss must equal."""
    student = model.student
    teacher = model.teacher_models['teacher']
    hd = model.head_distillers['crosskd']
    adapters = hd.adapters['teacher']
    idx = hd.idx
    s_head, t_head = student.bbox_head, teacher.bbox_head
    with torch.no_grad():
        tea, t_holds = [], []
        for level, x in enumerate(teacher.extract_feat(inputs)):
            cls_feat, reg_feat, cls_hold, reg_hold = authors_tower(
                t_head, x, idx)
            tea.append(authors_preds('gfl', t_head, level, cls_feat,
                                     reg_feat))
            t_holds.append((cls_hold, reg_hold))
    outs, cross = [], []
    for level, x in enumerate(student.extract_feat(inputs)):
        cls_feat, reg_feat, cls_hold, reg_hold = authors_tower(s_head, x,
                                                               idx)
        outs.append(authors_preds('gfl', s_head, level, cls_feat, reg_feat))
        cross.append(authors_reuse(
            'gfl', t_head, level, *t_holds[level],
            adapters['cls'](cls_hold), adapters['reg'](reg_hold), idx))
    cls_scores, bbox_preds = ([o[i] for o in outs] for i in range(2))
    gts, ignores, metas = unpack_gt_instances(data_samples)
    own = s_head.loss_by_feat(cls_scores, bbox_preds, gts, metas, ignores)
    anchors, valid = s_head.get_anchors([c.shape[-2:] for c in cls_scores],
                                        metas, device=inputs.device)
    targets = s_head.get_targets(anchors, valid, gts, metas, ignores)
    kd = authors_gfl_losses(s_head, [list(o) for o in zip(*tea)],
                            [list(o) for o in zip(*cross)], targets)
    return own, kd


def test_gfl_crosskd_step_equals_the_hand_written_step(toy_data, tmp_path):
    cfg = load_config(write_config(tmp_path / 'crosskd.py', CROSSKD,
                                   tiny_det_body(toy_data)))
    _, ckpt = _random_teacher(cfg, tmp_path)
    cfg.model.teacher.checkpoint = ckpt
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    loader = Runner.build_dataloader(
        dict(cfg.train_dataloader, num_workers=0, persistent_workers=False),
        seed=0)
    data = model.data_preprocessor(copy.deepcopy(next(iter(loader))), True)
    assert data.get('teacher_inputs') is None  # one preprocessing
    inputs, data_samples = data['inputs'], data['data_samples']

    ours = model.loss(inputs, data_samples)
    own, kd = _hand_step(model, inputs, data_samples)
    for key in ('loss_cls', 'loss_bbox', 'loss_dfl'):
        torch.testing.assert_close(_sum(ours[f'student.{key}']),
                                   _sum(own[key]))
    for key in ('loss_cls_kd', 'loss_reg_kd'):
        torch.testing.assert_close(ours[f'distill.crosskd.{key}'], kd[key])
        assert kd[key] > 0

    # and the same gradients, the adapters' included
    params = dict(model.named_parameters())
    watched = ['student.backbone.conv1.weight',
               'student.bbox_head.cls_convs.0.conv.weight',
               'student.bbox_head.gfl_reg.weight',
               'head_distillers.crosskd.adapters.teacher.reg.conv.weight']

    def grads(losses):
        model.zero_grad()
        total = sum(_sum(v) for v in losses.values())
        total.backward()
        return [params[k].grad.clone() for k in watched]

    ours_g = grads(ours)
    own, kd = _hand_step(model, inputs, data_samples)
    hand_g = grads({**own, **kd})
    for k, a, b in zip(watched, ours_g, hand_g):
        assert a.abs().sum() > 0, k
        # the same sums in another order: float32 rounding at ~1e-6 of the
        # gradient's scale (a missing or extra term is of its scale)
        torch.testing.assert_close(a, b, rtol=1e-4,
                                   atol=1e-5 * float(b.abs().max()), msg=k)
    assert all(p.grad is None
               for p in model.teacher_models['teacher'].parameters())
