from typing import Dict, List, Optional, Sequence

import torch
from mmdet.utils import reduce_mean
from torch import Tensor, nn

from kdtools.registry import MODELS
from kdtools.utils.errors import ConfigError
from ..recorders import get_submodule


def levels_to_flat(maps: Sequence[Tensor], channels: int) -> Tensor:
    """``[(B, A * channels, H_l, W_l)]`` per level -> ``(B, N, channels)``
    in mmdet's prior order (level, y, x, anchor)."""
    return torch.cat([m.permute(0, 2, 3, 1).reshape(m.shape[0], -1, channels)
                      for m in maps], dim=1)


def cat_levels(items: Sequence[Tensor]) -> Tensor:
    """``[(B, n_l, ...)]`` per level (mmdet's ``images_to_levels``) ->
    ``(B, N, ...)``."""
    return torch.cat(list(items), dim=1)


def strides_of(prior_generator) -> list:
    """A prior generator's strides, square ones as single numbers."""
    return [s[0] if isinstance(s, tuple) and s[0] == s[1] else s
            for s in prior_generator.strides]


class HeadMismatch:
    """Collects what makes a teacher head's outputs incomparable with the
    student head's, and raises one error naming both sides."""

    def __init__(self, owner: str, teacher: str) -> None:
        self.owner = owner
        self.teacher = teacher
        self.items: List[str] = []

    def compare(self, what: str, student, teacher) -> None:
        if isinstance(student, Tensor) or isinstance(teacher, Tensor):
            same = isinstance(student, Tensor) and \
                isinstance(teacher, Tensor) and \
                student.shape == teacher.shape and \
                bool(torch.allclose(student.float(), teacher.float()))
            if not same:
                student = student.tolist() if isinstance(student, Tensor) \
                    else student
                teacher = teacher.tolist() if isinstance(teacher, Tensor) \
                    else teacher
        else:
            same = student == teacher
        if not same:
            self.items.append(f'{what}: student {student} vs teacher '
                              f'{teacher}')

    def compare_priors(self, s_gen, t_gen,
                       per_location: str = 'priors per location') -> None:
        """Strides, priors per location and (when those agree) the prior
        boxes of every level."""
        self.compare('strides', strides_of(s_gen), strides_of(t_gen))
        self.compare(per_location, s_gen.num_base_priors,
                     t_gen.num_base_priors)
        if not self.items:
            for level, (a, b) in enumerate(zip(s_gen.base_anchors,
                                               t_gen.base_anchors)):
                self.compare(f'anchors of level {level}', a, b)

    def compare_coders(self, s_coder, t_coder) -> None:
        """Box coder type and, for delta coders, target means and stds:
        encoded deltas are comparable only under the same encoding."""
        self.compare('bbox_coder', type(s_coder).__name__,
                     type(t_coder).__name__)
        for attr in ('means', 'stds'):
            if hasattr(s_coder, attr):
                self.compare(f'bbox_coder.target_{attr}',
                             list(getattr(s_coder, attr)),
                             list(getattr(t_coder, attr, [])))

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(
                f'{self.owner}: the outputs of teachers.{self.teacher} do '
                'not describe the same priors/classes as the student\'s: '
                f'{"; ".join(self.items)}')


class BaseHeadDistiller(nn.Module):
    """Distillation that needs what only a head knows (its positives, its
    regression targets, its sampled RoIs).

    A head distiller leaves the student's head and config untouched: it
    records the head's outputs and the targets the head assigns inside its
    own ``loss`` (``get_targets``), reads the teacher head's outputs for the
    same priors, and returns its ``loss_*`` terms. The :class:`Distiller`
    installs the recorders it asks for, calls :meth:`check` once per
    teacher at build time and :meth:`loss` every step.

    Chen et al.'s ``mu`` comes from the classification KD loss
    (``WeightedSoftCELoss.mu``): the head's own classification loss
    (``hard_loss_key``) is multiplied by it, the soft term carries
    ``1 - mu``; without that loss the head's losses are left as they are.

    Args:
        student_head (str): the head's path in the student.
        teacher_head (str, optional): its path in the teacher; defaults to
            ``student_head``.
        hard_loss_key (str): the key of the head's classification loss.
    """

    def __init__(self, student_head: str, teacher_head: Optional[str] = None,
                 hard_loss_key: str = 'loss_cls') -> None:
        super().__init__()
        self.student_head = student_head
        self.teacher_head = teacher_head or student_head
        self.mu = None
        self.hard_loss_key = hard_loss_key

    def _build_chen_losses(self, loss_cls_kd: Optional[dict],
                           loss_bbox_kd: Optional[dict]) -> None:
        """``loss_cls_kd`` / ``loss_bbox_kd`` (at least one), and ``mu``
        from the classification loss."""
        if loss_cls_kd is None and loss_bbox_kd is None:
            raise ConfigError(f'{type(self).__name__}: no loss configured; '
                              'give loss_cls_kd and/or loss_bbox_kd')
        self.loss_cls_kd = build_loss(loss_cls_kd)
        self.loss_bbox_kd = build_loss(loss_bbox_kd)
        if self.loss_cls_kd is not None:
            self.mu = self.loss_cls_kd.mu

    # what to record (defaults: a dense head) ------------------------------
    def student_recorders(self) -> Dict[str, dict]:
        """The head's outputs and the targets its own ``loss`` assigns."""
        return dict(
            outs=dict(type='ModuleOutputs', source=self.student_head),
            targets=dict(type='MethodOutputs',
                         source=f'{self.student_head}.get_targets'))

    def teacher_recorders(self) -> Dict[str, dict]:
        """The teacher head's outputs."""
        return dict(outs=dict(type='ModuleOutputs', source=self.teacher_head))

    # build time ----------------------------------------------------------
    def head_of(self, model: nn.Module, side: str, owner: str) -> nn.Module:
        path = self.student_head if side == 'student' else self.teacher_head
        return get_submodule(model, path, f'{owner} ({side} head)')

    def check(self, student: nn.Module, teacher: nn.Module, teacher_name: str,
              owner: str) -> None:
        """Raise a :class:`ConfigError` naming both sides when the
        teacher's head outputs cannot be compared with the student's."""

    # every step ----------------------------------------------------------
    def scale_hard_losses(self, losses: Dict[str, Tensor]) -> None:
        if self.mu is None:
            return
        key = self.hard_loss_key
        if key not in losses:
            raise KeyError(f'{type(self).__name__}: mu is set but the '
                           f'student returned no {key!r} loss '
                           f'(it returned {sorted(losses)})')
        value = losses[key]
        losses[key] = [v * self.mu for v in value] \
            if isinstance(value, (list, tuple)) else value * self.mu

    def loss(self, student: Dict[str, object], teacher: Dict[str, object],
             teacher_model: nn.Module, data_samples) -> Dict[str, Tensor]:
        """``student`` / ``teacher``: recorder key -> recorded value (the
        last call)."""
        raise NotImplementedError


def refuse_class_mismatch(owner: str, teacher_name: str, student: int,
                          teacher: int, terms) -> None:
    """Box-only terms accept a teacher with another number of classes (as
    mmdet's LD does); the terms in ``terms`` (the configured ones that
    compare class scores) refuse it, naming both counts."""
    terms = [t for t in terms if t]
    if terms and student != teacher:
        raise ConfigError(
            f'{owner}: {", ".join(terms)} compares class scores but the '
            f'student head has {student} classes and teachers.'
            f'{teacher_name}\'s {teacher}; drop {", ".join(terms)} (box '
            f'terms accept it) or use a teacher with {student} classes')


def refuse_decoded_boxes(head: nn.Module, what: str, owner: str) -> None:
    """Bounded regression compares encoded deltas: refuse a head that
    regresses decoded boxes."""
    if getattr(head, 'reg_decoded_bbox', False):
        raise ConfigError(
            f'{owner}: the {what} regresses decoded boxes '
            '(reg_decoded_bbox=True); bounded regression compares encoded '
            'deltas')


def reduced_avg_factor(avg_factor, device) -> float:
    """A head's average factor, averaged over processes as the head's own
    losses do, at least 1."""
    return max(reduce_mean(torch.tensor(float(avg_factor),
                                        device=device)).item(), 1.0)


def soft_cls_kd(loss: nn.Module, preds_S: Tensor, preds_T: Tensor,
                labels: Tensor, weight: Tensor, avg_factor: float) -> Tensor:
    """The soft term of Chen et al.'s classification distillation (the hard
    term is the head's own loss, scaled by ``mu``): softmax heads give the
    background its weight through the background logit, sigmoid heads
    through the labels."""
    return loss(preds_S, preds_T,
                label=labels if getattr(loss, 'use_sigmoid', False) else None,
                weight=weight, avg_factor=avg_factor)


def build_loss(cfg: Optional[dict]) -> Optional[nn.Module]:
    if cfg is None:
        return None
    cfg = dict(cfg)
    cfg.pop('_scope_', None)
    return MODELS.build(cfg)
