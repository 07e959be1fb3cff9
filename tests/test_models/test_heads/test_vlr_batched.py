"""select_vlr computes the whole batch at once (issue 22: it looped over the
images in Python); the selection is the per-image one's, location for
location (the reference below is the former loop, verbatim)."""
import pytest
import torch
from mmdet.structures.bbox import bbox_overlaps

from kdtools.models.heads.vlr import (atss_iou_thresholds, pairwise_diou,
                                      select_vlr)


def _per_image_reference(priors, gt_bboxes, positive, valid, pos_iou_thr,
                         alpha, num_level_priors, topk, iou_mode):
    iou = priors.new_zeros(priors.shape[:2])
    in_band = torch.zeros_like(positive)
    for b, gt in enumerate(gt_bboxes):
        if not gt.numel():
            continue
        gt = gt.to(priors)
        ious = bbox_overlaps(priors[b], gt)  # (N, G)
        if pos_iou_thr == 'atss':
            gamma = atss_iou_thresholds(priors[b], gt, ious,
                                        num_level_priors, topk)
        else:
            gamma = ious.new_full((gt.shape[0], ), float(pos_iou_thr))
        bound = pairwise_diou(priors[b], gt, ious) \
            if iou_mode == 'diou' else ious
        band = (bound >= alpha * gamma) & (bound < gamma)
        in_band[b] = band.any(dim=1)
        iou[b] = torch.where(in_band[b],
                             ious.masked_fill(~band, -1).max(dim=1)[0],
                             ious.max(dim=1)[0])
    region = (~positive) & valid & in_band
    return region, iou


def _case(seed):
    g = torch.Generator().manual_seed(seed)
    levels = [64, 16, 4]  # 8x8, 4x4, 2x2 grids on a 64-px image
    priors = []
    for n, stride in zip(levels, (8, 16, 32)):
        side = int(n ** 0.5)
        ys, xs = torch.meshgrid(torch.arange(side), torch.arange(side),
                                indexing='ij')
        c = torch.stack([xs, ys], -1).reshape(-1, 2).float() * stride + \
            stride / 2
        half = 4 * stride / 2
        priors.append(torch.cat([c - half, c + half], -1))
    priors = torch.cat(priors).expand(3, -1, -1).contiguous()
    gts = []
    for n in (3, 0, 5):  # an image without boxes in the middle
        xy = torch.rand(n, 2, generator=g) * 40
        wh = torch.rand(n, 2, generator=g) * 20 + 4
        gts.append(torch.cat([xy, xy + wh], -1))
    positive = torch.rand(priors.shape[:2], generator=g) < 0.1
    valid = torch.rand(priors.shape[:2], generator=g) < 0.95
    return priors, gts, positive, valid, levels


@pytest.mark.parametrize('seed', [0, 1, 2])
@pytest.mark.parametrize('pos_iou_thr', ['atss', 0.5])
@pytest.mark.parametrize('iou_mode', ['diou', 'iou'])
def test_batched_selection_is_the_per_image_one(seed, pos_iou_thr, iou_mode):
    priors, gts, positive, valid, levels = _case(seed)
    kw = dict(pos_iou_thr=pos_iou_thr, alpha=0.25, num_level_priors=levels,
              topk=9, iou_mode=iou_mode)
    region, iou = select_vlr(priors, gts, positive, valid, **kw)
    ref_region, ref_iou = _per_image_reference(priors, gts, positive, valid,
                                               **kw)
    assert torch.equal(region, ref_region)
    assert region.any()  # the case selects something
    torch.testing.assert_close(iou, ref_iou, rtol=0, atol=1e-6)


def test_a_batch_without_boxes():
    priors, _, positive, valid, levels = _case(0)
    region, iou = select_vlr(priors, [torch.zeros(0, 4)] * 3, positive,
                             valid, 'atss', 0.25, levels, 9)
    assert not region.any() and not iou.any()
