from typing import Optional

from mmdet.models.losses.utils import weight_reduce_loss
from torch import Tensor, nn

from kdtools.registry import MODELS


def standardize_channels(x: Tensor, eps: float = 1e-6) -> Tensor:
    """Each channel of ``(N, C, H, W)`` standardised over the batch and the
    positions (``N * H * W`` values): ``(x - mean) / (std + eps)``, the
    unbiased std, as PKD's and CrossKD's code compute it."""
    n, c, h, w = x.shape
    flat = x.transpose(0, 1).reshape(c, -1)
    mean = flat.mean(dim=-1, keepdim=True)
    std = flat.std(dim=-1, keepdim=True)
    flat = (flat - mean) / (std + eps)
    return flat.reshape(c, n, h, w).transpose(0, 1)


@MODELS.register_module()
class PKDLoss(nn.Module):
    """PKD: feature imitation through the Pearson correlation coefficient
    (Cao et al., NeurIPS 2022, "PKD: General Distillation Framework for
    Object Detectors via Pearson Correlation Coefficient", Eq. 3-4).

    Both feature maps are standardised per channel over the batch and the
    positions (zero mean, unit variance: :func:`standardize_channels`), then

        L_PKD = 1 / 2 * mean_{n,c,h,w} (s_hat - t_hat)^2

    which for each channel equals ``1 - r`` (``r``: the Pearson correlation
    of the student and teacher activations of that channel, up to the
    ``(M - 1) / M`` of the unbiased std over ``M = N*H*W`` values): the
    student matches the teacher's relative activation pattern, not its
    magnitude, so heterogeneous pairs (FCOS teacher, RetinaNet student)
    need no adapter when the channel counts match. The teacher is detached.
    As in the authors' code (MMRazor) and CrossKD's.

    Shapes: ``preds_S``, ``preds_T``: ``(N, C, H, W)`` (one FPN level; one
    term per level, as the paper's configs); ``weight``: broadcastable to
    them.

    Args:
        reduction (str): ``'mean'`` over elements (the paper), ``'sum'`` or
            ``'none'``.
        loss_weight (float): multiplies the loss (paper: 6 for RetinaNet /
            FCOS students on four FPN levels; CrossKD + PKD: 1-6).
    """

    requires_same_shape = True

    def __init__(self, reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError(f'reduction={reduction!r}; expected "mean", '
                             '"sum" or "none"')
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, preds_S: Tensor, preds_T: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        if preds_S.shape != preds_T.shape or preds_S.dim() != 4:
            raise ValueError(
                f'student {tuple(preds_S.shape)} and teacher '
                f'{tuple(preds_T.shape)} features: expected equal (N, C, H, '
                'W) shapes; add an adapter')
        assert reduction_override in (None, 'none', 'mean', 'sum')
        loss = (standardize_channels(preds_S) -
                standardize_channels(preds_T.detach())).pow(2) / 2
        if weight is not None:
            weight = weight.expand_as(loss).float()
        return self.loss_weight * weight_reduce_loss(
            loss, weight=weight, reduction=reduction_override or
            self.reduction, avg_factor=avg_factor)
