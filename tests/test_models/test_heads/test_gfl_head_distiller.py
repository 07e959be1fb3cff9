"""Head distillers (Chen et al. 2017 at the head's own assignment, LD +
VLR): equal to mmdet's LD where they overlap, VLR's IoU rule, the teacher's
RoI head on the student's RoIs, and build-time refusals naming both sides."""
import os.path as osp
import statistics

import pytest
import torch
from mmdet.models.dense_heads import LDHead
from mmdet.models.losses import KnowledgeDistillationKLDivLoss
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import bbox_overlaps
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner import Runner
from mmengine.structures import InstanceData
from torch import nn

from kdtools.models.distillers.teacher import model_cfg_from
from kdtools.models.heads import GFLHeadDistiller, select_vlr
from kdtools.models.heads.vlr import atss_iou_thresholds, pairwise_diou
from kdtools.models.losses import LocalizationDistillationLoss
from kdtools.models.recorders import MethodOutputs
from kdtools.utils import load_config
from kdtools.utils.errors import ConfigError
from conftest import CONFIGS, tiny_det_body, write_config

LD = 'det/ld/ld_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py'
CHEN_2STAGE = ('det/chen17/chen17_faster-rcnn-mbv2_to_faster-rcnn-r18-'
               'base16_12e_toydet.py')


def test_ld_loss_equals_mmdet_kd_kl_div_loss():
    torch.manual_seed(0)
    s, t = torch.randn(12, 17), torch.randn(12, 17)
    w = torch.rand(12)
    ours = LocalizationDistillationLoss(temperature=10, loss_weight=0.25)
    theirs = KnowledgeDistillationKLDivLoss(loss_weight=0.25, T=10)
    for kwargs in (dict(), dict(weight=w, avg_factor=4.0),
                   dict(reduction_override='sum')):
        torch.testing.assert_close(ours(s, t, **kwargs),
                                   theirs(s, t, **kwargs))
    # by hand: T^2 * mean over bins of p_t * (log p_t - log p_s)
    p_t = torch.softmax(t / 10, -1)
    by_hand = (p_t * (p_t.log() - torch.log_softmax(s / 10, -1))).mean(-1)
    torch.testing.assert_close(ours(s, t, reduction_override='none'),
                               0.25 * 100 * by_hand)
    with pytest.raises(ValueError, match='reg_max must match'):
        ours(s, t[:, :9])


class _Holder(nn.Module):
    def __init__(self, head):
        super().__init__()
        self.bbox_head = head


def _ld_head():
    with DefaultScope.overwrite_default_scope('mmdet'):
        return _make_ld_head()


def _make_ld_head():
    return LDHead(num_classes=3, in_channels=8, stacked_convs=1,
                  feat_channels=8, norm_cfg=dict(type='BN'),
                  anchor_generator=dict(type='AnchorGenerator', ratios=[1.0],
                                        octave_base_scale=4,
                                        scales_per_octave=1,
                                        strides=[8, 16]),
                  loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True,
                                beta=2.0, loss_weight=1.0),
                  loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
                  loss_ld=dict(type='KnowledgeDistillationKLDivLoss',
                               loss_weight=0.25, T=10),
                  train_cfg=dict(assigner=dict(type='ATSSAssigner', topk=9),
                                 allowed_border=-1, pos_weight=-1,
                                 debug=False))


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


def test_vlr_selects_exactly_its_iou_band():
    gt = [torch.tensor([[0., 0., 10., 10.]])]
    priors = torch.tensor([[[0., 0., 10., 10.],   # IoU 1, positive
                            [0., 0., 10., 5.],    # 0.5: not < thr
                            [0., 0., 10., 4.],    # 0.4: in
                            [0., 0., 10., 2.],    # 0.2: in
                            [0., 0., 10., 1.],    # 0.1: < 0.25 * 0.5
                            [0., 0., 10., 3.],    # 0.3 but not trained on
                            [20., 20., 30., 30.]]])  # 0
    positive = torch.tensor([[True] + [False] * 6])
    valid = torch.tensor([[True] * 5 + [False, True]])
    region, iou = select_vlr(priors, gt, positive, valid, pos_iou_thr=0.5,
                             alpha=0.25, iou_mode='iou')
    assert region.tolist() == [[False, False, True, True, False, False,
                                False]]
    torch.testing.assert_close(
        iou, torch.tensor([[1., .5, .4, .2, .1, .3, 0.]]))
    # a wider band (alpha 0.1) takes the 0.1 prior too
    region, _ = select_vlr(priors, gt, positive, valid, 0.5, 0.1,
                           iou_mode='iou')
    assert region[0, 4]
    with pytest.raises(ConfigError, match='alpha'):
        GFLHeadDistiller(loss_ld_vlr=dict(type='LocalizationDistillationLoss'),
                         vlr=dict(pos_iou_thr=0.5, alpha=0))


def test_vlr_band_bounds_the_diou():
    """The paper's band bounds DIoU = IoU - rho^2 / c^2 (the authors' code
    too): of two priors with the same IoU, the one centred off the box
    leaves the band; the loss weight stays the plain IoU."""
    gt = torch.tensor([[0., 0., 10., 10.]])
    priors = torch.tensor([[2.5, 2.5, 7.5, 7.5],   # IoU .25, concentric
                           [0., 0., 10., 2.5],     # IoU .25, centre 3.75 off
                           [0., 0., 10., 5.]])     # IoU .5, centre 2.5 off
    ious = bbox_overlaps(priors, gt)
    # enclosing box = gt, c^2 = 200: .25 - 0, .25 - 3.75^2 / 200,
    # .5 - 2.5^2 / 200
    torch.testing.assert_close(
        pairwise_diou(priors, gt, ious),
        torch.tensor([[.25], [.1796875], [.46875]]))
    positive = torch.zeros(1, 3, dtype=torch.bool)
    valid = torch.ones(1, 3, dtype=torch.bool)
    # band [0.4 * 0.5, 0.5) = [0.2, 0.5)
    region, iou = select_vlr(priors[None], [gt], positive, valid, 0.5, 0.4)
    assert region.tolist() == [[True, False, True]]
    torch.testing.assert_close(iou, torch.tensor([[.25, .25, .5]]))
    region, _ = select_vlr(priors[None], [gt], positive, valid, 0.5, 0.4,
                           iou_mode='iou')
    assert region.tolist() == [[True, True, False]]
    with pytest.raises(ValueError, match="iou_mode='giou'"):
        select_vlr(priors[None], [gt], positive, valid, 0.5, 0.4,
                   iou_mode='giou')
    with pytest.raises(ConfigError, match="iou_mode='giou'"):
        GFLHeadDistiller(loss_ld_vlr=dict(type='LocalizationDistillationLoss'),
                         vlr=dict(pos_iou_thr=0.5, alpha=0.4,
                                  iou_mode='giou'))


def test_gfl_head_distiller_vlr_term_is_its_formula():
    """loss_ld_vlr = w * sum over the VLR priors of IoU * (sum over the 4
    edges of T^2 * KL(p_t || p_s)) / 16, the authors' LDHead normaliser."""
    student, outs, t_outs, gts, _, targets = _ld_head_case()
    hd = GFLHeadDistiller(loss_ld_vlr=dict(
        type='LocalizationDistillationLoss', temperature=10,
        loss_weight=0.25))
    ours = _head_distiller_loss(hd, student, outs, t_outs, gts,
                                targets)['loss_ld_vlr']

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


def test_vlr_atss_threshold_is_atss_own():
    """pos_iou_thr='atss': each box's threshold is ATSS's mean + std of the
    IoUs of its topk nearest priors per level, so the band moves with it;
    mmdet's ATSSAssigner makes positive exactly the candidates at or above
    that threshold (centres inside the box)."""
    gt = torch.tensor([[0., 0., 10., 10.]])
    priors = torch.tensor([[0., 0., 10., 10.],    # level 0: IoU 1, dist 0
                           [0., 0., 10., 5.],     # 0.5, dist 2.5
                           [0., 0., 10., 2.],     # 0.2, dist 4
                           [20., 20., 30., 30.],  # 0, far: not a candidate
                           [0., 0., 10., 4.],     # level 1: 0.4
                           [40., 40., 50., 50.]])  # 0
    # candidates: 3 nearest on level 0, both priors of level 1
    cand = [1., .5, .2, .4, 0.]
    gamma = statistics.mean(cand) + statistics.stdev(cand)  # 0.797
    thr = atss_iou_thresholds(priors, gt, bbox_overlaps(priors, gt), [4, 2],
                              topk=3)
    torch.testing.assert_close(thr, torch.tensor([gamma]))
    with DefaultScope.overwrite_default_scope('mmdet'):
        assigner = TASK_UTILS.build(dict(type='ATSSAssigner', topk=3))
    result = assigner.assign(InstanceData(priors=priors),
                             [4, 2], InstanceData(bboxes=gt,
                                                  labels=torch.tensor([0])))
    assert (result.gt_inds > 0).tolist() == [True] + [False] * 5
    positive = torch.tensor([[True] + [False] * 5])
    valid = torch.ones_like(positive)
    region, iou = select_vlr(priors[None], [gt], positive, valid, 'atss',
                             0.25, [4, 2], topk=3, iou_mode='iou')
    # band [0.25 * 0.797, 0.797) = [0.199, 0.797): 0.5, 0.2 and 0.4
    assert region.tolist() == [[False, True, True, False, True, False]]
    # with a fixed threshold of 0.5 the 0.5 prior leaves the band
    region, _ = select_vlr(priors[None], [gt], positive, valid, 0.5, 0.25,
                           iou_mode='iou')
    assert region.tolist() == [[False, False, True, False, True, False]]
    # per box: a prior above one box's threshold is still in the band of
    # another box it overlaps less; its weight is that box's IoU
    two = [torch.tensor([[0., 0., 10., 5.], [0., 0., 10., 10.]])]
    region, iou = select_vlr(priors[None, 1:2], two, torch.tensor([[False]]),
                             torch.tensor([[True]]), 0.6, 0.25,
                             iou_mode='iou')
    assert region.tolist() == [[True]]
    torch.testing.assert_close(iou, torch.tensor([[0.5]]))
    with pytest.raises(ConfigError, match="'atss'"):
        GFLHeadDistiller(loss_ld_vlr=dict(type='LocalizationDistillationLoss'),
                         vlr=dict(pos_iou_thr='max'))
    # the distiller takes topk from the student's ATSSAssigner ...
    hd = GFLHeadDistiller(
        loss_ld_vlr=dict(type='LocalizationDistillationLoss'),
        vlr=dict(pos_iou_thr='atss', alpha=0.25))
    hd.check(_Holder(_ld_head()), _Holder(_ld_head()), 'teacher', 'test')
    assert hd.vlr_topk == 9
    # ... and refuses a student head assigned otherwise
    head = _ld_head()
    with DefaultScope.overwrite_default_scope('mmdet'):
        head.assigner = TASK_UTILS.build(dict(
            type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4))
    with pytest.raises(ConfigError, match='MaxIoUAssigner; give a number'):
        hd.check(_Holder(head), _Holder(_ld_head()), 'teacher', 'test')


def _random_teacher(cfg, tmp_path, **head_changes):
    tcfg = model_cfg_from(cfg.model.teacher.config, 'teacher')
    tcfg.backbone.init_cfg = None
    for key, value in head_changes.items():
        node = tcfg
        *path, last = key.split('.')
        for p in path:
            node = node[p]
        node[last] = value
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=MODELS.build(tcfg).state_dict()), ckpt)
    return tcfg, ckpt


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


def _build(cfg_path, tmp_path, **head_changes):
    cfg = load_config(cfg_path)
    _, ckpt = _random_teacher(cfg, tmp_path, **head_changes)
    cfg.model.teacher.checkpoint = ckpt
    cfg.model.teacher.config = model_cfg_from(cfg.model.teacher.config,
                                              'teacher')
    for key, value in head_changes.items():
        node = cfg.model.teacher.config
        *path, last = key.split('.')
        for p in path:
            node = node[p]
        node[last] = value
    cfg.model.teacher.config.backbone.init_cfg = None
    return MODELS.build(cfg.model)


def test_reg_max_mismatch_is_refused_naming_both(tmp_path):
    with pytest.raises(ConfigError, match=r'reg_max: student 16 vs teacher '
                       r'teacher 8'):
        _build(osp.join(CONFIGS, LD), tmp_path, **{'bbox_head.reg_max': 8})


def test_anchor_and_class_mismatches_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r'num_classes: student 10 vs '
                       r'teacher teacher 5'):
        _build(osp.join(CONFIGS, LD), tmp_path,
               **{'bbox_head.num_classes': 5})
    with pytest.raises(ConfigError, match=r'anchors of level 0'):
        _build(osp.join(CONFIGS, LD), tmp_path,
               **{'bbox_head.anchor_generator.octave_base_scale': 8})
    with pytest.raises(ConfigError, match=r'rcnn.*num_classes: student 10 '
                       r'vs teacher teacher 4'):
        _build(osp.join(CONFIGS, CHEN_2STAGE), tmp_path,
               **{'roi_head.bbox_head.num_classes': 4})
    with pytest.raises(ConfigError, match=r'rpn.*strides: student \[8, 16, '
                       r'32\] vs teacher teacher \[8, 16, 64\]'):
        _build(osp.join(CONFIGS, CHEN_2STAGE), tmp_path,
               **{'rpn_head.anchor_generator.strides': [8, 16, 64]})


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
    with pytest.raises(ConfigError, match=r"teacher teacher \(GFL\) has no "
                       r"'roi_head'; the student \(FasterRCNN\) has one"):
        MODELS.build(cfg.model)


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
