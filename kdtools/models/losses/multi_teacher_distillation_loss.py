from typing import Optional, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from kdtools.registry import MODELS
from .utils import tempered_kl


@MODELS.register_module()
class MultiTeacherDistillationLoss(nn.Module):
    """DeiT-style distillation from n teachers (Touvron et al., ICML 2021,
    extended to n teachers as in the project's seed note 000):

        soft: (1 - a) CE(psi(Z_cls), y)
              + a * tau^2 / n * sum_i KL(psi(Z_ti / tau) || psi(Z_dist / tau))
        hard: (1 - a) CE(psi(Z_cls), y)
              + a / n * sum_i CE(psi(Z_dist), argmax Z_ti)

    ``psi`` is the softmax. With a distillation token the label term trains
    the class head (``cls_score``) and the distillation term the
    distillation head (``dist_score``); without one both terms use the
    single head. Teachers may be of any architecture: only their logits
    over the same classes are used.

    In a Distiller: ``inputs=dict(cls_score='student.cls',
    dist_score='student.dist', teacher_scores='teachers.logits',
    label='data.gt_label')`` with ``student_loss_weight=0`` (the label term
    is part of this loss, so the student's own loss is not added again).

    Shapes: ``cls_score``, ``dist_score``: ``(N, C)``; ``teacher_scores``:
    n tensors ``(N, C)``; ``label``: ``(N, )`` or ``(N, 1)``.

    Args:
        mode (str): 'soft' or 'hard'.
        alpha (float): a.
        tau (float): the soft mode's temperature (no effect in hard mode,
            which has no tau^2 factor).
        loss_weight (float): multiplies the loss.
    """

    requires_same_shape = True

    def __init__(self, mode: str = 'soft', alpha: float = 0.5,
                 tau: float = 1.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        if mode not in ('soft', 'hard'):
            raise ValueError(f'mode={mode!r}; expected "soft" or "hard"')
        if not 0 <= alpha <= 1:
            raise ValueError(f'alpha={alpha}; expected 0 <= alpha <= 1')
        self.mode = mode
        self.alpha = alpha
        self.tau = tau
        self.loss_weight = loss_weight

    def forward(self, cls_score: Tensor, teacher_scores: Sequence[Tensor],
                label: Tensor, dist_score: Optional[Tensor] = None) -> Tensor:
        if isinstance(teacher_scores, Tensor):
            teacher_scores = [teacher_scores]
        if not teacher_scores:
            raise ValueError('no teacher scores given')
        dist_score = cls_score if dist_score is None else dist_score
        for i, t in enumerate(teacher_scores):
            if t.shape != dist_score.shape:
                raise ValueError(
                    f'teacher {i} logits {tuple(t.shape)} and student logits '
                    f'{tuple(dist_score.shape)} differ: the class counts must '
                    'match')
        n = len(teacher_scores)
        if label.numel() != cls_score.shape[0]:
            raise ValueError(f'label {tuple(label.shape)}: expected one class '
                             f'index per sample ({cls_score.shape[0]})')
        label_term = F.cross_entropy(cls_score, label.reshape(-1).long())
        if self.mode == 'soft':
            kd = sum(tempered_kl(dist_score, t, self.tau).mean()
                     for t in teacher_scores) / n
        else:
            kd = sum(F.cross_entropy(dist_score, t.detach().argmax(dim=-1))
                     for t in teacher_scores) / n
        loss = (1 - self.alpha) * label_term + self.alpha * kd
        return self.loss_weight * loss
