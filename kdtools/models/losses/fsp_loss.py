from typing import Dict, Optional, Tuple

import torch.nn.functional as F
from torch import Tensor, nn

from kdtools.registry import MODELS


def fsp_matrix(first: Tensor, second: Tensor) -> Tensor:
    """The flow of solution procedure (FSP) matrix of Yim et al. between two
    feature maps of one network:

        G[i, j] = sum_{s, t} F1[i, s, t] * F2[j, s, t] / (h * w)

    When the maps differ in size the larger is max-pooled to the smaller
    (the paper's ResNets halve the size at a stage's first block).

    Shapes: ``first`` ``(N, C1, H1, W1)``, ``second`` ``(N, C2, H2, W2)`` ->
    ``(N, C1, C2)``.
    """
    if first.dim() != 4 or second.dim() != 4:
        raise ValueError(f'FSP needs (N, C, H, W) feature maps; got '
                         f'{tuple(first.shape)} and {tuple(second.shape)}')
    h, w = min(first.shape[2], second.shape[2]), \
        min(first.shape[3], second.shape[3])
    if first.shape[2:] != (h, w):
        first = F.adaptive_max_pool2d(first, (h, w))
    if second.shape[2:] != (h, w):
        second = F.adaptive_max_pool2d(second, (h, w))
    return first.flatten(2) @ second.flatten(2).transpose(1, 2) / (h * w)


@MODELS.register_module()
class FSPLoss(nn.Module):
    """FSP distillation (Yim et al., "A Gift from Knowledge Distillation:
    Fast Optimization, Network Minimization and Transfer Learning", CVPR
    2017) for one layer pair:

        L = lambda * 1/N * sum_x ||G_T(x) - G_S(x)||_2^2

    ``G`` the FSP matrix of the pair (``fsp_matrix``); one configured loss
    per pair, ``loss_weight`` its lambda (the paper: equal for all pairs).
    The paper's stage 1 minimises the FSP terms alone and stage 2 trains the
    task: ``loss_schedules=dict(student=dict(start_epoch=E),
    loss_fsp...=dict(stop_epoch=E))`` on the Distiller.

    Shapes: ``s_first``/``t_first`` ``(N, C1, H1, W1)`` and
    ``s_second``/``t_second`` ``(N, C2, H2, W2)``; teacher and student must
    agree in ``C1`` and ``C2`` (checked when the distiller is built);
    spatial sizes may differ between the two networks.

    Args:
        loss_weight (float): lambda.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    @staticmethod
    def check_shapes(shapes: Dict[str, Tuple[int, ...]]) -> None:
        """Refuse a layer pair whose channel counts differ between teacher
        and student (called by the Distiller at build time)."""
        for which in ('first', 'second'):
            s, t = shapes.get(f's_{which}'), shapes.get(f't_{which}')
            if s is None or t is None:
                continue
            if len(s) != 4 or len(t) != 4:
                raise ValueError(f'FSP {which} layer: needs (N, C, H, W) '
                                 f'maps; student {s}, teacher {t}')
            if s[1] != t[1]:
                raise ValueError(
                    f'FSP {which} layer: student has {s[1]} channels, '
                    f'teacher {t[1]}: an FSP pair compares matrices of '
                    'equal size, so pick layers whose channel counts match')

    @staticmethod
    def teacher_summary(t_first: Tensor, t_second: Tensor) -> Tensor:
        """The teacher's FSP matrix ``(N, C1, C2)``: what a Distiller with
        ``teacher_cache=True`` keeps per sample instead of the features."""
        return fsp_matrix(t_first, t_second).detach()

    def forward(self, s_first: Tensor, s_second: Tensor,
                t_first: Optional[Tensor] = None,
                t_second: Optional[Tensor] = None,
                teacher_summary: Optional[Tensor] = None) -> Tensor:
        g_s = fsp_matrix(s_first, s_second)
        if teacher_summary is None:
            if t_first is None or t_second is None:
                raise ValueError('FSPLoss needs t_first and t_second, or '
                                 'teacher_summary (the teacher matrix)')
            teacher_summary = self.teacher_summary(t_first, t_second)
        g_t = teacher_summary.detach()
        if g_s.shape != g_t.shape:
            raise ValueError(f'student FSP matrix {tuple(g_s.shape)} and '
                             f'teacher FSP matrix {tuple(g_t.shape)} differ')
        return self.loss_weight * (g_t - g_s).pow(2).sum(dim=(1, 2)).mean()
