from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from kdtools.registry import MODELS
from .utils import tempered_kl


@MODELS.register_module()
class PixelWiseKDLoss(nn.Module):
    """Pixel-wise distillation of structured knowledge distillation (Liu et
    al., CVPR 2019 / TPAMI 2020, Eq. 1):

        L_pi = 1 / |P| * sum_{i in P} T^2 * KL(q_i^t || q_i^s),
        q_i = softmax(z_i / T)

    over the pixels P of the compared score maps, i.e. the student is
    trained towards the teacher's class distribution at every pixel (the
    gradient is that of the cross-entropy with the teacher's soft labels,
    as in the authors' code).

    When the score maps differ in size the teacher's logits are resized
    bilinearly to the student's (``align='student'``) or the student's to the
    teacher's (``align='teacher'``). Pixels whose ground-truth label (``gt``,
    resized by nearest neighbour) is ``ignore_index`` are left out.

    Shapes: ``preds_S``: ``(N, C, H, W)``; ``preds_T``: ``(N, C, H', W')``
    logits; ``gt``: ``(N, H'', W'')`` or ``(N, 1, H'', W'')`` labels.

    Args:
        temperature (float): T.
        align (str): 'student' or 'teacher': whose size the maps take.
        ignore_index (int): label of pixels to leave out.
        loss_weight (float): multiplies the loss (paper: 10).
    """

    requires_same_shape = False

    def __init__(self, temperature: float = 1.0, align: str = 'student',
                 ignore_index: int = 255, loss_weight: float = 10.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature={temperature}; expected > 0')
        if align not in ('student', 'teacher'):
            raise ValueError(f'align={align!r}; expected "student" or '
                             '"teacher"')
        self.temperature = temperature
        self.align = align
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight

    def forward(self, preds_S: Tensor, preds_T: Tensor,
                gt: Optional[Tensor] = None) -> Tensor:
        if preds_S.shape[:2] != preds_T.shape[:2]:
            raise ValueError(
                f'student scores {tuple(preds_S.shape)} and teacher scores '
                f'{tuple(preds_T.shape)} differ in batch or class count')
        preds_T = preds_T.detach()
        if preds_S.shape[2:] != preds_T.shape[2:]:
            if self.align == 'student':
                preds_T = F.interpolate(preds_T, size=preds_S.shape[2:],
                                        mode='bilinear', align_corners=False)
            else:
                preds_S = F.interpolate(preds_S, size=preds_T.shape[2:],
                                        mode='bilinear', align_corners=False)
        kl = tempered_kl(preds_S, preds_T, self.temperature, dim=1)
        if gt is not None:
            gt = gt.reshape(gt.shape[0], 1, *gt.shape[-2:]).float()
            gt = F.interpolate(gt, size=kl.shape[-2:], mode='nearest')[:, 0]
            valid = (gt != self.ignore_index).to(kl.dtype)
            loss = (kl * valid).sum() / valid.sum().clamp(min=1.0)
        else:
            loss = kl.mean()
        return self.loss_weight * loss



