from typing import Optional

import torch
import torch.nn.functional as F
from mmdet.models.losses.utils import weight_reduce_loss
from torch import Tensor, nn

from kdtools.registry import MODELS


def _normalize(x: Tensor, mode: Optional[str]) -> Tensor:
    if mode is None:
        return x
    if mode == 'channel':  # unit L2 norm over C at every location
        return F.normalize(x, p=2, dim=1)
    if mode == 'standardize':  # zero mean, unit std per channel (PKD)
        n, c = x.shape[:2]
        flat = x.reshape(n, c, -1)
        mean = flat.mean(dim=-1, keepdim=True)
        std = flat.std(dim=-1, keepdim=True) + 1e-6
        return ((flat - mean) / std).reshape_as(x)
    raise ValueError(f'normalize={mode!r}; expected None, "channel" or '
                     '"standardize"')


@MODELS.register_module()
class FeatureImitationLoss(nn.Module):
    """Feature imitation (hint learning).

    Chen et al., NeurIPS 2017, "Learning Efficient Object Detection Models
    with Knowledge Distillation", Eq. 5, and Romero et al., ICLR 2015,
    "FitNets": ``L_hint = ||A(V_s) - Z_t||_2^2`` between the adapted student
    feature ``A(V_s)`` (the distiller applies the adapter) and the teacher
    feature ``Z_t``.

    Shapes: ``preds_S``, ``preds_T``: ``(N, C, H, W)`` (any shape, equal);
    ``weight``: broadcastable to them (e.g. ``(N, 1, H, W)`` masks).

    Args:
        dist (str): ``'l2'`` (squared error, the paper), ``'l1'`` or
            ``'smooth_l1'``.
        normalize (str, optional): ``'channel'`` (unit L2 norm over channels
            at each location) or ``'standardize'`` (per-channel zero mean,
            unit std) applied to both features first.
        reduction (str): ``'mean'`` over elements (default), ``'sum'`` (the
            paper's squared norm), or ``'none'``.
        loss_weight (float): multiplies the loss.
    """

    #: the distiller checks at build time that the wired inputs agree
    requires_same_shape = True

    def __init__(self, dist: str = 'l2', normalize: Optional[str] = None,
                 reduction: str = 'mean', loss_weight: float = 1.0) -> None:
        super().__init__()
        if dist not in ('l2', 'l1', 'smooth_l1'):
            raise ValueError(f'dist={dist!r}; expected "l2", "l1" or '
                             '"smooth_l1"')
        _normalize(torch.zeros(1, 1, 1, 1), normalize)  # validate early
        self.dist = dist
        self.normalize = normalize
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, preds_S: Tensor, preds_T: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        if preds_S.shape != preds_T.shape:
            raise ValueError(f'student {tuple(preds_S.shape)} and teacher '
                             f'{tuple(preds_T.shape)} features differ in '
                             'shape; add an adapter')
        reduction = reduction_override or self.reduction
        s = _normalize(preds_S, self.normalize)
        t = _normalize(preds_T.detach(), self.normalize)
        if self.dist == 'l2':
            loss = (s - t).pow(2)
        elif self.dist == 'l1':
            loss = (s - t).abs()
        else:
            loss = F.smooth_l1_loss(s, t, reduction='none')
        if weight is not None:
            weight = weight.expand_as(loss).float()
        return self.loss_weight * weight_reduce_loss(
            loss, weight=weight, reduction=reduction, avg_factor=avg_factor)
