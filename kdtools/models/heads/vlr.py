from typing import List, Tuple

from mmdet.structures.bbox import bbox_overlaps
from torch import Tensor


def select_vlr(priors: Tensor, gt_bboxes: List[Tensor], positive: Tensor,
               valid: Tensor, pos_iou_thr: float,
               alpha: float) -> Tuple[Tensor, Tensor]:
    """The valuable localization region of Zheng et al. (CVPR 2022, Sec.
    3.3): priors that are not positives but overlap a ground-truth box
    enough to carry localization knowledge,

        VLR = { i : not positive(i), valid(i),
                alpha * pos_iou_thr <= max_g IoU(prior_i, gt_g) < pos_iou_thr }

    with IoU between the prior (anchor) box and the image's ground truth.

    Args:
        priors (Tensor): ``(B, N, 4)`` prior boxes, ``xyxy``.
        gt_bboxes (list[Tensor]): per image ``(G_b, 4)`` ground truth.
        positive (Tensor): ``(B, N)`` bool, the head's positives.
        valid (Tensor): ``(B, N)`` bool, priors the head trains on.
        pos_iou_thr (float): gamma, the IoU that makes a prior positive.
        alpha (float): alpha_vl in (0, 1]: the region's lower bound is
            ``alpha * pos_iou_thr``.

    Returns:
        tuple: ``(B, N)`` bool mask of the region and ``(B, N)`` max IoU.
    """
    max_iou = priors.new_zeros(priors.shape[:2])
    for b, gt in enumerate(gt_bboxes):
        if gt.numel():
            max_iou[b] = bbox_overlaps(priors[b], gt.to(priors)).max(dim=1)[0]
    region = (~positive) & valid & (max_iou >= alpha * pos_iou_thr) & \
        (max_iou < pos_iou_thr)
    return region, max_iou

