"""The valuable localization region (LD's VLR): exactly its IoU band, the
band bounding DIoU as in the paper, ATSS's own threshold per box."""
import statistics

import pytest
import torch
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import bbox_overlaps
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from kdtools.models.heads import GFLHeadDistiller, select_vlr
from kdtools.models.heads.vlr import atss_iou_thresholds, pairwise_diou
from kdtools.utils.errors import ConfigError
from _helpers.heads import _Holder, _ld_head


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
        GFLHeadDistiller(loss_vlr_ld=dict(type='LocalizationDistillationLoss'),
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
        GFLHeadDistiller(loss_vlr_ld=dict(type='LocalizationDistillationLoss'),
                         vlr=dict(pos_iou_thr=0.5, alpha=0.4,
                                  iou_mode='giou'))


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
        GFLHeadDistiller(loss_vlr_ld=dict(type='LocalizationDistillationLoss'),
                         vlr=dict(pos_iou_thr='max'))
    # the distiller takes topk from the student's ATSSAssigner ...
    hd = GFLHeadDistiller(
        loss_vlr_ld=dict(type='LocalizationDistillationLoss'),
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
