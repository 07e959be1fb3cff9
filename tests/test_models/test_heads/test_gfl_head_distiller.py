"""GFLHeadDistiller (LD + VLR at the student head's own assignment): equal
to mmdet's LD where they overlap, the VLR term against its formula, a
reg_max mismatch refused naming both sides, and LD trained step for step as
mmdet's LD detector."""
import os.path as osp

import pytest
import torch
from mmengine.registry import MODELS
from mmengine.runner import Runner
from mmengine.structures import InstanceData

from kdtools.models.heads import GFLHeadDistiller, select_vlr
from kdtools.models.recorders import MethodOutputs
from kdtools.utils import load_config
from kdtools.utils.errors import ConfigError
from conftest import CONFIGS, tiny_det_body, write_config
from _helpers.heads import LD, _build, _Holder, _ld_head, _random_teacher


def _ld_head_case():
    """A two-image LDHead case: the student head's outputs, random teacher
    outputs, the ground truth, mmdet LDHead's losses on them and the
    student's assignment (``get_targets``) recorded meanwhile."""
    torch.manual_seed(0)
    head = _ld_head()
    feats = [torch.randn(2, 8, 8, 8), torch.randn(2, 8, 4, 4)]
    outs = head(feats)
    t_outs = tuple([torch.randn_like(o) for o in level]
                   for level in outs)
    gts = [InstanceData(bboxes=torch.tensor([[8., 8., 40., 40.],
                                             [30., 20., 60., 50.]]),
                        labels=torch.tensor([0, 2])),
           InstanceData(bboxes=torch.tensor([[4., 10., 30., 60.]]),
                        labels=torch.tensor([1]))]
    metas = [dict(img_shape=(64, 64), pad_shape=(64, 64))] * 2
    student = _Holder(head)
    recorder = MethodOutputs('bbox_head.get_targets')
    recorder.prepare(student, 'test')
    recorder.recording = True
    theirs = head.loss_by_feat(outs[0], outs[1], gts, metas,
                               soft_targets=t_outs[1])
    recorder.recording = False
    return student, outs, t_outs, gts, theirs, recorder.get()


def _head_distiller_loss(hd, student, outs, t_outs, gts, targets):
    hd.check(student, _Holder(_ld_head()), 'teacher', 'test')
    samples = [type('S', (), dict(gt_instances=g)) for g in gts]
    return hd.loss(dict(outs=outs, targets=targets), dict(outs=t_outs),
                   None, samples)


def test_gfl_head_distiller_ld_equals_mmdet_ld_head():
    """Same student outputs, teacher outputs and assignment: kdtools' main
    region LD gives mmdet LDHead's loss_ld."""
    student, outs, t_outs, gts, theirs, targets = _ld_head_case()
    hd = GFLHeadDistiller(loss_ld=dict(type='LocalizationDistillationLoss',
                                       temperature=10, loss_weight=0.25))
    ours = _head_distiller_loss(hd, student, outs, t_outs, gts, targets)
    torch.testing.assert_close(ours['loss_ld'], sum(theirs['loss_ld']))
    assert ours['loss_ld'] > 0


def test_gfl_head_distiller_vlr_term_is_its_formula():
    """loss_vlr_ld = w * sum over the VLR priors of IoU * (sum over the 4
    edges of T^2 * KL(p_t || p_s)) / 16, the authors' LDHead normaliser."""
    student, outs, t_outs, gts, _, targets = _ld_head_case()
    hd = GFLHeadDistiller(loss_vlr_ld=dict(
        type='LocalizationDistillationLoss', temperature=10,
        loss_weight=0.25))
    ours = _head_distiller_loss(hd, student, outs, t_outs, gts,
                                targets)['loss_vlr_ld']

    anchors, labels, label_w = (torch.cat(t, 1) for t in targets[:3])
    region, iou = select_vlr(anchors, [g.bboxes for g in gts],
                             (labels >= 0) & (labels < 3), label_w > 0,
                             'atss', 0.25, [a.shape[1] for a in targets[0]],
                             topk=9)
    assert region.sum() > 0

    def flat(levels):
        return torch.cat([o.permute(0, 2, 3, 1).reshape(o.shape[0], -1,
                                                        o.shape[1])
                          for o in levels], 1)[region].reshape(-1, 17)

    p_t = torch.softmax(flat(t_outs[1]) / 10, -1)
    kl = 100 * (p_t * (p_t.log() - torch.log_softmax(flat(outs[1]) / 10,
                                                     -1))).mean(-1)
    by_hand = 0.25 * (iou[region] * kl.reshape(-1, 4).sum(-1)).sum() / 16
    torch.testing.assert_close(ours, by_hand)


def test_reg_max_mismatch_is_refused_naming_both(tmp_path):
    with pytest.raises(ConfigError, match=r'teachers.teacher .*reg_max: '
                       r'student 16 vs teacher 8$'):
        _build(osp.join(CONFIGS, LD), tmp_path, **{'bbox_head.reg_max': 8})


MMDET_LD = 'det/ld/mmdet-ld_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py'


def test_ld_trains_step_for_step_as_mmdet_ld(toy_data, tmp_path,
                                             monkeypatch):
    """kdtools' LD config and mmdet's LD (``KnowledgeDistillationSingle
    StageDetector`` + ``LDHead``) on the same teacher checkpoint, seed and
    batches start from the same student and give the same losses, step for
    step, once mmdet's ``LDHead`` normalises its box losses as ``GFLHead``
    does (``clamp(min=1)`` on the summed quality weights, where ``LDHead``
    adds 1e-6 instead): that is the one difference between the two runs."""
    import copy

    import mmdet.models.dense_heads.ld_head as ld_head
    from mmengine.optim import OptimWrapper
    from mmengine.runner import set_random_seed

    ours_cfg = load_config(write_config(tmp_path / 'ours.py', LD,
                                        tiny_det_body(toy_data)))
    peer_cfg = load_config(write_config(tmp_path / 'peer.py', MMDET_LD,
                                        tiny_det_body(toy_data)))
    _, ckpt = _random_teacher(ours_cfg, tmp_path)
    ours_cfg.model.teacher.checkpoint = ckpt
    peer_cfg.model.teacher_ckpt = ckpt
    models = []
    for cfg in (ours_cfg, peer_cfg):
        set_random_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        model.train()
        models.append(model)
    ours, peer = models
    s_ours, s_peer = ours.student.state_dict(), peer.state_dict()
    assert sorted(s_ours) == sorted(s_peer)
    assert all(torch.equal(s_ours[k], s_peer[k]) for k in s_ours)

    loader = Runner.build_dataloader(
        dict(ours_cfg.train_dataloader, num_workers=0,
             persistent_workers=False), seed=0)
    batches = [b for _, b in zip(range(3), loader)]
    weight = 'bbox_head.gfl_reg.weight'
    start = s_ours[weight].clone()
    monkeypatch.setattr(ld_head, 'reduce_mean', lambda t: t.clamp(min=1))
    optims = [OptimWrapper(torch.optim.SGD(m.parameters(), lr=0.01,
                                           momentum=0.9)) for m in models]
    for batch in batches:
        a = ours.train_step(copy.deepcopy(batch), optims[0])
        b = peer.train_step(copy.deepcopy(batch), optims[1])
        for key in ('loss_cls', 'loss_bbox', 'loss_dfl'):
            torch.testing.assert_close(a[f'student.{key}'], b[key],
                                       rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(a['distill.ld.loss_ld'], b['loss_ld'],
                                   rtol=1e-5, atol=1e-6)
        assert b['loss_ld'] > 0
    # the students moved, and alike
    assert not torch.equal(ours.student.state_dict()[weight], start)
    torch.testing.assert_close(ours.student.state_dict()[weight],
                               peer.state_dict()[weight], rtol=1e-4, atol=1e-6)


def test_vlr_none_switches_the_vlr_term_off():
    """``vlr=None`` (e.g. ``--cfg-options model.head_distillers.ld.vlr=None``
    on the LD + VLR config) switches VLR off: LD alone (a TypeError
    before)."""
    student, outs, t_outs, gts, _, targets = _ld_head_case()
    ld = dict(type='LocalizationDistillationLoss', temperature=10,
              loss_weight=0.25)
    hd = GFLHeadDistiller(loss_ld=ld, loss_vlr_ld=ld, vlr=None)
    assert hd.loss_vlr_ld is None
    losses = _head_distiller_loss(hd, student, outs, t_outs, gts, targets)
    assert set(losses) == {'loss_ld'}
    with pytest.raises(ConfigError, match='vlr=None switched loss_vlr_ld'):
        GFLHeadDistiller(loss_vlr_ld=ld, vlr=None)


def test_loss_keys_log_as_losses_and_former_name_still_builds():
    """No key ends in 'lr' (mmengine's LogProcessor takes those for
    learning rates); the former argument ``loss_ld_vlr`` still builds the
    VLR term."""
    student, outs, t_outs, gts, _, targets = _ld_head_case()
    ld = dict(type='LocalizationDistillationLoss', temperature=10,
              loss_weight=0.25)
    hd = GFLHeadDistiller(loss_ld=ld, loss_ld_vlr=ld,
                          loss_cls_kd=dict(type='WeightedSoftCELoss',
                                           use_sigmoid=True),
                          loss_bbox_kd=dict(
                              type='TeacherBoundedRegressionLoss'))
    assert hd.loss_vlr_ld is not None
    losses = _head_distiller_loss(hd, student, outs, t_outs, gts, targets)
    assert set(losses) == {'loss_ld', 'loss_vlr_ld', 'loss_cls_kd',
                           'loss_bbox_kd'}
    assert not any(k.endswith('lr') for k in losses)
