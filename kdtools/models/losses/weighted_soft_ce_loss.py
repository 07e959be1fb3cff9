from typing import Optional

import torch.nn.functional as F
from mmdet.models.losses.utils import weight_reduce_loss
from torch import Tensor, nn

from kdtools.registry import MODELS


@MODELS.register_module()
class WeightedSoftCELoss(nn.Module):
    """Classification distillation of Chen et al., NeurIPS 2017, "Learning
    Efficient Object Detection Models with Knowledge Distillation", Eq. 2-3:

        L_cls = mu * CE(P_s, y) + (1 - mu) * L_soft(P_s, P_t),
        L_soft = - sum_c w_c * P_t(c) * log P_s(c),
        P = softmax(Z / T)

    with a larger weight ``w_bg`` on the background class (1.5 in the
    paper) against the foreground/background imbalance.

    Shapes: ``preds_S``, ``preds_T``: ``(N, C + 1)`` logits (mmdet's softmax
    heads put background last, ``bg_index=-1``); ``label``: ``(N, )``;
    ``weight``: ``(N, )``.

    Args:
        mu (float): weight of the hard term; ``1 - mu`` weights the soft
            term. Without ``label`` only the soft term is computed.
        temperature (float): T.
        bg_weight (float): w_c of the background class (others 1).
        bg_index (int): index of the background logit.
        scale_by_t2 (bool): multiply the soft term by T^2 (Hinton's gradient
            scale); the paper does not.
        reduction (str): 'mean', 'sum' or 'none'.
        loss_weight (float): multiplies the loss.
    """

    requires_same_shape = True

    def __init__(self, mu: float = 0.5, temperature: float = 1.0,
                 bg_weight: float = 1.5, bg_index: int = -1,
                 scale_by_t2: bool = False, reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if not 0 <= mu <= 1:
            raise ValueError(f'mu={mu}; expected 0 <= mu <= 1')
        if temperature <= 0:
            raise ValueError(f'temperature={temperature}; expected > 0')
        self.mu = mu
        self.temperature = temperature
        self.bg_weight = bg_weight
        self.bg_index = bg_index
        self.scale_by_t2 = scale_by_t2
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, preds_S: Tensor, preds_T: Tensor,
                label: Optional[Tensor] = None,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        if preds_S.shape != preds_T.shape:
            raise ValueError(
                f'student logits {tuple(preds_S.shape)} and teacher logits '
                f'{tuple(preds_T.shape)} differ: the class counts must match')
        reduction = reduction_override or self.reduction
        t = self.temperature
        class_w = preds_S.new_ones(preds_S.shape[-1])
        class_w[self.bg_index] = self.bg_weight
        p_t = F.softmax(preds_T.detach() / t, dim=-1)
        log_p_s = F.log_softmax(preds_S / t, dim=-1)
        soft = -(class_w * p_t * log_p_s).sum(dim=-1)
        if self.scale_by_t2:
            soft = soft * t * t
        loss = (1 - self.mu) * soft
        if label is not None and self.mu > 0:
            loss = loss + self.mu * F.cross_entropy(
                preds_S, label.long(), reduction='none')
        return self.loss_weight * weight_reduce_loss(
            loss, weight=weight, reduction=reduction, avg_factor=avg_factor)
