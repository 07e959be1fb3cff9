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

    Sigmoid heads (RPN objectness, RetinaNet/GFL/FCOS classifiers) have no
    background logit: with ``use_sigmoid=True`` every class is a binary
    distribution ``(sigmoid(z/T), 1 - sigmoid(z/T))``, the soft term is the
    binary cross-entropy summed over the C classes, and ``bg_weight``
    weights the locations whose ``label`` is background (``label == C``,
    mmdet's convention) instead of a background class. The hard term is
    left to the head's own classification loss (``mu`` is then read by the
    head distiller, which scales the head's loss by it). Dense heads score
    thousands of easy background locations; ``gamma > 0`` modulates each
    binary term by ``|p_t - p_s|^gamma`` as GFL's quality focal loss does
    with hard targets (0: the plain form).

    Args:
        mu (float): weight of the hard term; ``1 - mu`` weights the soft
            term. Without ``label`` only the soft term is computed.
        temperature (float): T.
        bg_weight (float): w_c of the background class (others 1).
        bg_index (int): index of the background logit.
        use_sigmoid (bool): sigmoid (per-class binary) form, see above.
        gamma (float): focal modulation of the sigmoid form.
        scale_by_t2 (bool): multiply the soft term by T^2 (Hinton's gradient
            scale); the paper does not.
        reduction (str): 'mean', 'sum' or 'none'.
        loss_weight (float): multiplies the loss.
    """

    requires_same_shape = True

    def __init__(self, mu: float = 0.5, temperature: float = 1.0,
                 bg_weight: float = 1.5, bg_index: int = -1,
                 scale_by_t2: bool = False, use_sigmoid: bool = False,
                 gamma: float = 0.0, reduction: str = 'mean', loss_weight: float = 1.0) -> None:
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
        self.use_sigmoid = use_sigmoid
        self.gamma = gamma
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
        if self.use_sigmoid:
            return self._sigmoid_forward(preds_S, preds_T, label, weight,
                                         avg_factor, reduction)
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

    def _sigmoid_forward(self, preds_S, preds_T, label, weight, avg_factor,
                         reduction) -> Tensor:
        t = self.temperature
        p_t = (preds_T.detach() / t).sigmoid()
        soft = F.binary_cross_entropy_with_logits(
            preds_S / t, p_t, reduction='none')
        if self.gamma:
            p_s = (preds_S / t).sigmoid()
            soft = soft * (p_t - p_s).abs().detach().pow(self.gamma)
        soft = soft.sum(dim=-1)
        if self.scale_by_t2:
            soft = soft * t * t
        if label is not None:
            is_bg = label.reshape(-1) >= preds_S.shape[-1]
            soft = soft * (1 + (self.bg_weight - 1) * is_bg.to(soft.dtype))
        return self.loss_weight * weight_reduce_loss(
            (1 - self.mu) * soft, weight=weight, reduction=reduction,
            avg_factor=avg_factor)
