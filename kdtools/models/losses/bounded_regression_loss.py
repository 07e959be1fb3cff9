from typing import Optional

from mmdet.models.losses.utils import weight_reduce_loss
from torch import Tensor, nn

from kdtools.registry import MODELS


@MODELS.register_module()
class TeacherBoundedRegressionLoss(nn.Module):
    """Teacher-bounded regression of Chen et al., NeurIPS 2017, Eq. 4:

        L_b = ||R_s - y||_2^2   if ||R_s - y||_2^2 + m > ||R_t - y||_2^2
              0                 otherwise

    per box: the student is pushed towards the target only while it is not
    better than the teacher by the margin ``m``. The paper adds it to the
    usual smooth-L1 regression loss with weight nu (``loss_weight`` here):
    ``L_reg = L_sL1(R_s, y) + nu * L_b``.

    Shapes: ``preds_S``, ``preds_T``, ``target``: ``(N, 4)`` regression
    outputs in the head's encoding (deltas); ``weight``: ``(N, )`` or
    ``(N, 4)`` (mmdet's ``bbox_weights``; a box counts when any of its
    weights is non-zero).

    Args:
        margin (float): m.
        reduction (str): 'mean', 'sum' or 'none'.
        loss_weight (float): nu.
    """

    requires_same_shape = True

    def __init__(self, margin: float = 0.0, reduction: str = 'mean',
                 loss_weight: float = 0.5) -> None:
        super().__init__()
        self.margin = margin
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, preds_S: Tensor, preds_T: Tensor, target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        reduction = reduction_override or self.reduction
        err_s = (preds_S - target).pow(2).sum(dim=-1)
        err_t = (preds_T.detach() - target).pow(2).sum(dim=-1)
        active = (err_s + self.margin > err_t).to(err_s.dtype)
        loss = err_s * active
        if weight is not None and weight.dim() == loss.dim() + 1:
            weight = (weight > 0).any(dim=-1).to(loss.dtype)
        return self.loss_weight * weight_reduce_loss(
            loss, weight=weight, reduction=reduction, avg_factor=avg_factor)
