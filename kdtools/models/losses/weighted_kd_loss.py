"""Importance-weighted soft-target distillation (SSD-KD's student term)."""
from typing import Optional

from torch import Tensor, nn

from kdtools.registry import MODELS
from .utils import tempered_kl


@MODELS.register_module()
class WeightedKDLoss(nn.Module):
    """The student term of SSD-KD (Liu et al., CVPR 2024; DATAFREE.md 2.3,
    choice 12) on samples drawn from the replay buffer with priority::

        L_S = (1/b) sum_j w_j * T^2 * KL(softmax(t_j/T) || softmax(s_j/T))

    ``w_j`` the normalised importance-sampling weights ``(N P(x_j))^-beta /
    max w``; without ``weight`` (uniform sampling, Fast-Datafree's memory
    bank, Fang et al. AAAI 2022) it is Hinton's KD with ``batchmean``.
    The teacher is detached.

    Shapes: ``preds_S``, ``preds_T``: ``(b, C)`` logits; ``weight (b,)``.

    Args:
        temperature (float): T (20 in Fast-Datafree's CIFAR scripts).
        loss_weight (float): multiplies the loss.
        reduction (str): 'mean', 'sum' or 'none' (mmdet loss API).
    """

    def __init__(self, temperature: float = 20.0, loss_weight: float = 1.0,
                 reduction: str = 'mean') -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature={temperature}; expected > 0')
        self.temperature = float(temperature)
        self.loss_weight, self.reduction = loss_weight, reduction

    def forward(self, preds_S: Tensor, preds_T: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        if preds_S.shape != preds_T.shape:
            raise ValueError(f'student logits {tuple(preds_S.shape)} and '
                             f'teacher logits {tuple(preds_T.shape)} differ: '
                             'the class counts must match')
        loss = tempered_kl(preds_S, preds_T, self.temperature, dim=1)
        if weight is not None:
            loss = loss * weight.to(loss)
        reduction = reduction_override or self.reduction
        if reduction == 'none':
            out = loss
        elif reduction == 'sum':
            out = loss.sum()
        else:
            out = loss.sum() / avg_factor if avg_factor else loss.mean()
        return self.loss_weight * out
