"""The task (one-hot) term of data-free inversion, weighted by SSD-KD's
modulating function phi."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kdtools.registry import MODELS


def diversity_weight(pred_labels: Tensor, num_classes: int, kappa: float,
                     scope_counts: Optional[Tensor] = None,
                     norm: str = 'nbar') -> Tensor:
    """``phi_div(x_j) = (n_{yhat_j} / nbar)^kappa`` (DATAFREE.md 2.7), no
    gradient. ``n_c`` counts the teacher-argmax labels of the scope: the
    batch, plus the class histogram ``scope_counts`` of the replay buffer
    for ``phi_scope='buffer+batch'``; ``nbar = (1/|scope|) sum_k
    n_{yhat_k} = sum_c n_c^2 / sum_c n_c``. ``norm='mean'`` divides
    ``n_{yhat}^kappa`` by its own mean over the scope instead,
    ``sum_c n_c^(1+kappa) / sum_c n_c``, so that the weights average 1 over
    the scope for every kappa (the same as 'nbar' at kappa = 1; at kappa =
    -1, 'nbar''s weights average the number of classes present times
    ``nbar / |scope|``). Shapes: ``pred_labels (B,)``, ``scope_counts (C,)``
    -> ``(B,)``."""
    counts = torch.bincount(pred_labels, minlength=num_classes).to(
        torch.float)
    if scope_counts is not None:
        counts = counts + scope_counts.to(counts)
    if norm == 'mean':
        present = counts[counts > 0]
        scope_mean = (present * present.pow(kappa)).sum() / present.sum()
        return counts[pred_labels].pow(kappa) / scope_mean
    nbar = counts.pow(2).sum() / counts.sum()
    return (counts[pred_labels] / nbar).pow(kappa)


@MODELS.register_module()
class ModulatedTaskLoss(nn.Module):
    """SSD-KD's modulated task term (Liu et al., "Small Scale Data-Free
    Knowledge Distillation", CVPR 2024; DATAFREE.md 2.5 and 2.7, the [C]
    reading of phi)::

        L = (1/B) sum_j phi(x_j) * CE(t_j, c_j)
        phi(x_j) = sg[(n_{yhat_j} / nbar)^kappa] * (1 - p_t(c_j | x_j))^gamma

    ``c_j`` is the random target class of sample j, ``yhat_j = argmax t_j``
    the teacher's prediction, ``n_c`` the number of samples in the scope
    predicted as c. The difficulty factor is not detached, so with kappa=0
    this is exactly the focal loss; the diversity factor is
    (piecewise constant, detached). With ``gamma=0, kappa=0`` it is the
    plain cross-entropy of Fast-Datafree's ``loss_oh`` (Fang et al., AAAI
    2022) and DeepInversion (Yin et al., CVPR 2020).

    Shapes: ``logits (B, C)`` teacher logits of the augmented synthetic
    batch (gradients flow to the images through them); ``target (B,)``
    long; ``weight (B,)`` optional per-sample weight; ``scope_counts
    (C,)`` optional class histogram of the buffer's teacher-argmax labels
    (``phi_scope='buffer+batch'``; pixels for segmentation). Segmentation
    (DATAFREE.md 7, ``DataFreeDistiller(task='seg')``) uses the same loss
    with score maps reshaped to one row per pixel (``B*H*W`` rows).

    Args:
        gamma (float): difficulty exponent (focal; 2).
        kappa (float): diversity exponent (+1 for classification).
        phi_norm (str): 'nbar' (``(n / nbar)^kappa``) or 'mean' (``n^kappa``
            over its mean on the scope: mean weight 1 for any kappa; the
            same as 'nbar' at kappa = 1). See :func:`diversity_weight`.
        loss_weight (float): lambda_oh.
        reduction (str): 'mean', 'sum' or 'none' (mmdet loss API).
    """

    def __init__(self, gamma: float = 2.0, kappa: float = 1.0,
                 loss_weight: float = 1.0, reduction: str = 'mean',
                 phi_norm: str = 'nbar') -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f'gamma={gamma}; expected >= 0')
        if phi_norm not in ('nbar', 'mean'):
            raise ValueError(f"phi_norm={phi_norm!r}; expected 'nbar' or "
                             "'mean'")
        self.phi_norm = phi_norm
        self.gamma, self.kappa = float(gamma), float(kappa)
        self.loss_weight, self.reduction = loss_weight, reduction

    def phi(self, logits: Tensor, target: Tensor,
            scope_counts: Optional[Tensor] = None) -> Tensor:
        """phi per sample ``(B,)`` (the difficulty factor with gradient)."""
        p_target = F.softmax(logits, dim=1).gather(
            1, target[:, None]).squeeze(1)
        phi = (1 - p_target).pow(self.gamma) if self.gamma else \
            torch.ones_like(p_target)
        if self.kappa:
            phi = phi * diversity_weight(logits.detach().argmax(1),
                                         logits.shape[1], self.kappa,
                                         scope_counts, self.phi_norm)
        return phi

    def forward(self, logits: Tensor, target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                scope_counts: Optional[Tensor] = None) -> Tensor:
        reduction = reduction_override or self.reduction
        loss = self.phi(logits, target, scope_counts) * F.cross_entropy(
            logits, target, reduction='none')
        if weight is not None:
            loss = loss * weight
        if reduction == 'none':
            out = loss
        elif reduction == 'sum':
            out = loss.sum()
        else:
            out = loss.sum() / avg_factor if avg_factor else loss.mean()
        return self.loss_weight * out
