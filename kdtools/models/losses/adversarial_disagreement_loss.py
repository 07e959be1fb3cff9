"""Fast-Datafree's adversarial inversion term (teacher-student
disagreement)."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from kdtools.registry import MODELS


@MODELS.register_module()
class AdversarialDisagreementLoss(nn.Module):
    """Decision-masked adversarial term of Fast-Datafree (Fang et al., "Up
    to 100x Faster Data-free Knowledge Distillation", AAAI 2022;
    ``fast_meta.py``; DATAFREE.md 2.6), minimised by the generator::

        L_adv = -(1/B) sum_j m_j * KL(p_t,j || p_s,j),
        m_j = 1[argmax s_j == argmax t_j]

    at temperature 1: only samples on which the student still agrees with
    the teacher are pushed towards disagreement. Neither side is detached
    (the gradient reaches the images through teacher and student; the
    distiller keeps the student's parameters out of it).

    Shapes: ``preds_S``, ``preds_T``: ``(B, C)`` logits -> scalar.

    Args:
        loss_weight (float): lambda_adv.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, preds_S: Tensor, preds_T: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        if preds_S.shape != preds_T.shape:
            raise ValueError(f'student logits {tuple(preds_S.shape)} and '
                             f'teacher logits {tuple(preds_T.shape)} differ')
        log_t = F.log_softmax(preds_T, dim=1)
        log_s = F.log_softmax(preds_S, dim=1)
        kl = (log_t.exp() * (log_t - log_s)).sum(1)
        mask = (preds_S.argmax(1) == preds_T.argmax(1)).to(kl.dtype)
        loss = kl * mask
        if weight is not None:
            loss = loss * weight
        return -self.loss_weight * loss.mean()
