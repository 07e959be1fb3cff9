from typing import Optional

import torch.nn.functional as F
from mmdet.models.losses.utils import weight_reduce_loss
from torch import Tensor, nn

from kdtools.registry import MODELS


@MODELS.register_module()
class KDQualityFocalLoss(nn.Module):
    """Sigmoid classification distillation weighted as GFL's quality focal
    loss, the classification term of CrossKD (Wang et al., CVPR 2024,
    "CrossKD: Cross-Head Knowledge Distillation for Object Detection",
    Eq. 6 with the QFL form of Li et al., NeurIPS 2020): with
    ``p_t = sigmoid(z_t)`` the teacher's per-class probabilities as soft
    targets,

        L = |sigmoid(z_s) - p_t|^beta * BCE(sigmoid(z_s), p_t)

    per location and class, summed and divided by ``avg_factor`` (the
    head's number of positives). As in the authors' code
    (``KDQualityFocalLoss``, ``beta=1``).

    Shapes: ``preds_S``, ``preds_T``: ``(N, C)`` logits; ``weight``:
    ``(N, )`` per location (the head's label weights), broadcast over the
    classes.

    Args:
        beta (float): the modulating exponent (paper: 1).
        reduction (str): 'mean', 'sum' or 'none'.
        loss_weight (float): multiplies the loss.
    """

    requires_same_shape = True
    use_sigmoid = True

    def __init__(self, beta: float = 1.0, reduction: str = 'mean',
                 loss_weight: float = 1.0, use_sigmoid: bool = True) -> None:
        super().__init__()
        if not use_sigmoid:
            raise ValueError('KDQualityFocalLoss: use_sigmoid=False; only '
                             'the sigmoid form exists')
        self.beta = beta
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, preds_S: Tensor, preds_T: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        if preds_S.shape != preds_T.shape:
            raise ValueError(f'student logits {tuple(preds_S.shape)} and '
                             f'teacher logits {tuple(preds_T.shape)} differ: '
                             'the class counts must match')
        target = preds_T.detach().sigmoid()
        loss = F.binary_cross_entropy_with_logits(preds_S, target,
                                                  reduction='none')
        loss = loss * (preds_S.sigmoid() - target).abs().pow(self.beta)
        if weight is not None:
            weight = (weight[:, None] if weight.dim() == 1 else weight
                      ).expand_as(loss).float()
        return self.loss_weight * weight_reduce_loss(
            loss, weight=weight, reduction=reduction_override or
            self.reduction, avg_factor=avg_factor)
