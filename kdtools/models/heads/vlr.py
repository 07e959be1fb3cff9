from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmdet.structures.bbox import bbox_overlaps
from torch import Tensor


def atss_iou_thresholds(priors: Tensor, gt_bboxes: Tensor, ious: Tensor,
                        num_level_priors: Sequence[int],
                        topk: int) -> Tensor:
    """ATSS's adaptive positive IoU threshold of each ground-truth box
    (Zhang et al., CVPR 2020; mmdet's ``ATSSAssigner``): on every level the
    ``topk`` priors whose centres are closest to the box centre are its
    candidates, and the threshold is the mean + standard deviation of the
    candidates' IoUs.

    Args:
        priors (Tensor): ``([B,] N, 4)`` prior boxes, ``xyxy``, levels
            concatenated.
        gt_bboxes (Tensor): ``([B,] G, 4)``.
        ious (Tensor): ``([B,] N, G)`` their IoUs.
        num_level_priors (Sequence[int]): priors per level (sum N).
        topk (int): candidates per level.

    Returns:
        Tensor: ``([B,] G)`` thresholds.
    """
    p_ctr = (priors[..., :2] + priors[..., 2:]) / 2
    g_ctr = (gt_bboxes[..., :2] + gt_bboxes[..., 2:]) / 2
    dist = (p_ctr.unsqueeze(-2) - g_ctr.unsqueeze(-3)).pow(2).sum(
        -1).sqrt()  # ([B,] N, G)
    candidates, start = [], 0
    for n in num_level_priors:
        k = min(topk, n)
        candidates.append(dist.narrow(-2, start, n).topk(
            k, dim=-2, largest=False)[1] + start)
        start += n
    candidates = torch.cat(candidates, dim=-2)  # ([B,] K, G)
    cand_ious = ious.gather(-2, candidates)
    return cand_ious.mean(-2) + cand_ious.std(-2)


# what the VLR band can bound (select_vlr's iou_mode)
VLR_IOU_MODES = ('diou', 'iou')


def pairwise_diou(priors: Tensor, gt_bboxes: Tensor, ious: Tensor,
                  eps: float = 1e-6) -> Tensor:
    """Distance-IoU (Zheng et al., AAAI 2020) of every prior with every box:
    ``IoU - rho^2 / c^2``, rho the distance between the two centres and c
    the diagonal of the smallest box enclosing both.

    Args:
        priors (Tensor): ``([B,] N, 4)``, ``xyxy``.
        gt_bboxes (Tensor): ``([B,] G, 4)``.
        ious (Tensor): ``([B,] N, G)`` their IoUs.

    Returns:
        Tensor: ``([B,] N, G)``.
    """
    p, g = priors.unsqueeze(-2), gt_bboxes.unsqueeze(-3)
    p_ctr = (p[..., :2] + p[..., 2:]) / 2
    g_ctr = (g[..., :2] + g[..., 2:]) / 2
    rho2 = (p_ctr - g_ctr).pow(2).sum(-1)
    lt = torch.min(p[..., :2], g[..., :2])
    rb = torch.max(p[..., 2:], g[..., 2:])
    c2 = (rb - lt).pow(2).sum(-1).clamp(min=eps)
    return ious - rho2 / c2


def select_vlr(priors: Tensor, gt_bboxes: List[Tensor], positive: Tensor,
               valid: Tensor, pos_iou_thr: Union[float, str],
               alpha: float,
               num_level_priors: Optional[Sequence[int]] = None,
               topk: Optional[int] = None,
               iou_mode: str = 'diou') -> Tuple[Tensor, Tensor]:
    """The valuable localization region of Zheng et al. (CVPR 2022, Sec.
    3.3): priors that are not positives but overlap a ground-truth box
    enough to carry localization knowledge,

        VLR = { i : not positive(i), valid(i), there is a box g with
                alpha * gamma_g <= DIoU(prior_i, g) < gamma_g }

    with the distance-IoU (:func:`pairwise_diou`) between the prior
    (anchor) box and the image's ground truth, as the paper defines the
    region and the authors' code selects it (``iou_mode='iou'`` takes the
    plain IoU instead), and gamma_g the IoU that makes a prior positive for
    box g: a fixed number (``pos_iou_thr``, a max-IoU assigner's) or, with
    ``pos_iou_thr='atss'``, ATSS's adaptive threshold of box g
    (:func:`atss_iou_thresholds`, on plain IoUs), as the authors use with
    GFL's ATSS assigner. DIoU takes the centre distance off the IoU, so of
    two priors with the same IoU the one centred further from the box is
    the less likely to be in the band. The loss weighs each prior by its
    plain IoU, as the authors' code does.

    Args:
        priors (Tensor): ``(B, N, 4)`` prior boxes, ``xyxy``.
        gt_bboxes (list[Tensor]): per image ``(G_b, 4)`` ground truth.
        positive (Tensor): ``(B, N)`` bool, the head's positives.
        valid (Tensor): ``(B, N)`` bool, priors the head trains on.
        pos_iou_thr (float | str): gamma, or ``'atss'``.
        alpha (float): alpha_vl in (0, 1]: the region's lower bound is
            ``alpha * gamma``.
        num_level_priors (Sequence[int], optional): priors per level
            (needed by ``'atss'``).
        topk (int, optional): ATSS's candidates per level (needed by
            ``'atss'``).
        iou_mode (str): what the band bounds: ``'diou'`` (the paper's) or
            ``'iou'``.

    Returns:
        tuple: ``(B, N)`` bool mask of the region and ``(B, N)`` IoU: the
        largest IoU with a box whose band the prior is in (inside the
        region), the largest IoU with any box elsewhere.
    """
    if iou_mode not in VLR_IOU_MODES:
        raise ValueError(f'select_vlr: iou_mode={iou_mode!r}; expected one '
                         f'of {VLR_IOU_MODES}')
    if pos_iou_thr == 'atss' and (num_level_priors is None or topk is None):
        raise ValueError("select_vlr: pos_iou_thr='atss' needs "
                         'num_level_priors and topk')
    num_gts = [len(gt) for gt in gt_bboxes]
    if not max(num_gts, default=0):
        return torch.zeros_like(positive), priors.new_zeros(
            priors.shape[:2])
    # the batch at once: boxes padded to the most of any image, padding
    # masked out of the band and of the largest IoU
    gts = priors.new_zeros(len(gt_bboxes), max(num_gts), 4)
    real = torch.zeros(gts.shape[:2], dtype=torch.bool,
                       device=priors.device)
    for b, gt in enumerate(gt_bboxes):
        gts[b, :len(gt)] = gt.to(priors)
        real[b, :len(gt)] = True
    ious = bbox_overlaps(priors, gts)  # (B, N, G)
    if pos_iou_thr == 'atss':
        gamma = atss_iou_thresholds(priors, gts, ious, num_level_priors,
                                    topk)  # (B, G)
    else:
        gamma = ious.new_full(gts.shape[:2], float(pos_iou_thr))
    bound = pairwise_diou(priors, gts, ious) if iou_mode == 'diou' else ious
    gamma = gamma.unsqueeze(1)
    band = (bound >= alpha * gamma) & (bound < gamma) & real.unsqueeze(1)
    in_band = band.any(dim=2)
    largest = ious.masked_fill(~real.unsqueeze(1), -1).max(dim=2)[0]
    iou = torch.where(in_band, ious.masked_fill(~band, -1).max(dim=2)[0],
                      largest.clamp(min=0))
    region = (~positive) & valid & in_band
    return region, iou
