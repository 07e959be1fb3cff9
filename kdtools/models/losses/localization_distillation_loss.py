from typing import Optional

from mmdet.models.losses.utils import weight_reduce_loss
from torch import Tensor, nn

from kdtools.registry import MODELS
from .utils import tempered_kl


@MODELS.register_module()
class LocalizationDistillationLoss(nn.Module):
    """Localization distillation (LD) of Zheng et al., CVPR 2022,
    "Localization Distillation for Dense Object Detection", Eq. 5:

        L_LD(e) = T^2 * KL( softmax(z_t(e) / T) || softmax(z_s(e) / T) )

    for every box edge e (left, top, right, bottom), where z is the head's
    ``reg_max + 1`` logits of the discretised edge distribution (GFL). As in
    the authors' code (and mmdet's ``KnowledgeDistillationKLDivLoss``) the
    divergence is averaged over the ``reg_max + 1`` bins
    (``class_reduction='sum'`` sums them instead: CrossKD's GFL regression
    term, ``T=1``, weight 4).

    Shapes: ``preds_S``, ``preds_T``: ``(N, reg_max + 1)`` edge logits (one
    row per edge); ``weight``: ``(N, )``.

    Args:
        temperature (float): T (paper: 10).
        class_reduction (str): ``'mean'`` (LD) or ``'sum'`` over the bins.
        reduction (str): 'mean', 'sum' or 'none'.
        loss_weight (float): multiplies the loss (paper: 0.25).
    """

    requires_same_shape = True

    def __init__(self, temperature: float = 10.0, reduction: str = 'mean',
                 loss_weight: float = 0.25,
                 class_reduction: str = 'mean') -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature={temperature}; expected > 0')
        if class_reduction not in ('mean', 'sum'):
            raise ValueError(f'class_reduction={class_reduction!r}; '
                             'expected "mean" or "sum"')
        self.class_reduction = class_reduction
        self.temperature = temperature
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, preds_S: Tensor, preds_T: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        if preds_S.shape != preds_T.shape:
            raise ValueError(
                f'student edge logits {tuple(preds_S.shape)} and teacher '
                f'edge logits {tuple(preds_T.shape)} differ: reg_max must '
                'match')
        loss = tempered_kl(preds_S, preds_T, self.temperature)
        if self.class_reduction == 'mean':  # over the reg_max + 1 bins
            loss = loss / preds_S.shape[-1]
        return self.loss_weight * weight_reduce_loss(
            loss, weight=weight, reduction=reduction_override or
            self.reduction, avg_factor=avg_factor)
