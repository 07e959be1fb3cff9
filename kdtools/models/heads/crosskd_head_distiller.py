"""What CrossKD's head distillers share: the recorders, the build-time
checks and the cross-head forward (the student's tower features through the
frozen teacher's remaining tower and prediction layers). The detector
families (:class:`CrossKDGFLHeadDistiller`, :class:`CrossKDRetinaHead
Distiller`, :class:`CrossKDFCOSHeadDistiller`,
:class:`CrossKDATSSHeadDistiller`) add their prediction layers and their
losses."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kdtools.registry import MODELS
from kdtools.utils.errors import ConfigError
from ..losses.pkd_loss import standardize_channels
from .base_head_distiller import (BaseHeadDistiller, HeadMismatch, build_loss,
                                  refuse_class_mismatch)


def align_scale(student: Tensor, teacher: Tensor) -> Tensor:
    """The student's feature with each channel standardised over the batch
    and positions, then given the teacher's per-channel mean and (unbiased)
    std: ``(s - mu_s) / (sigma_s + 1e-6) * sigma_t + mu_t``, as the authors'
    ``align_scale``. The teacher's statistics carry no gradient."""
    c = teacher.shape[1]
    flat = teacher.detach().transpose(0, 1).reshape(c, -1)
    mean = flat.mean(dim=-1).reshape(1, c, 1, 1)
    std = flat.std(dim=-1).reshape(1, c, 1, 1)
    return standardize_channels(student) * std + mean


def level_major(maps: Sequence[Tensor], channels: int) -> Tensor:
    """``[(B, A * channels, H_l, W_l)]`` -> ``(sum_l B * A * H_l * W_l,
    channels)`` in the order (level, image, y, x, anchor): how FCOS's
    ``get_targets`` concatenates its labels."""
    return torch.cat(
        [m.permute(0, 2, 3, 1).reshape(-1, channels) for m in maps])


class CrossKDHeadDistiller(BaseHeadDistiller):
    """CrossKD (Wang et al., CVPR 2024, "CrossKD: Cross-Head Knowledge
    Distillation for Object Detection"): the student head's tower features
    after its ``i``-th conv (``reused_teacher_head_idx``; 0: the head's
    input) go through the frozen teacher head's remaining tower convs
    ``i..n-1`` and prediction layers (with the teacher's ``Scale`` of each
    level); these cross-head predictions are distilled toward the teacher's
    own predictions, while the student head trains on the ground truth
    alone (its own losses, untouched).

    Before the teacher's layers, each student feature map is standardised
    per channel over the batch and positions and given the mean and std of
    the teacher's feature at the same depth (:func:`align_scale`), then a
    ReLU when ``i > 0`` (the tower's activation), as the authors' code does.
    The held features are the tower's outputs after its activation (the
    authors' ``ConvModule``'s in-place ReLU makes their held
    pre-activation tensor the post-activation one).

    The teacher's layers stay frozen (no parameter of theirs requires a
    gradient); gradients reach the student through them. Where the student
    head is narrower or wider than the teacher's at that depth, ``adapter``
    (e.g. ``dict(type='ConvAdapter')``, trainable, one per branch and
    teacher, shared over levels) maps its features to the teacher's width
    first; without one such a pair is refused, naming both widths.

    Subclasses name the prediction layers (:attr:`layers`), run them
    (:meth:`predict`) and compute the losses (:meth:`kd_losses`).

    Args:
        reused_teacher_head_idx (int): i, in ``0..stacked_convs``.
        adapter (dict, optional): student-side channel adapter.
        student_head (str): the head's path in the student.
        teacher_head (str, optional): its path in the teacher.
    """

    #: the head family, for messages
    family = ''
    #: the prediction layers and attributes both heads must have
    layers: Tuple[str, ...] = ()
    #: the loss arguments, in the order the terms are logged
    loss_names: Tuple[str, ...] = ('loss_cls_kd', 'loss_reg_kd')
    #: the losses that compare class scores (refused across class counts)
    class_losses: Tuple[str, ...] = ('loss_cls_kd', )

    def __init__(self, losses: Dict[str, Optional[dict]],
                 reused_teacher_head_idx: int,
                 adapter: Optional[dict] = None,
                 student_head: str = 'bbox_head',
                 teacher_head: Optional[str] = None) -> None:
        super().__init__(student_head, teacher_head)
        name = type(self).__name__
        if not any(losses.values()):
            raise ConfigError(f'{name}: no loss configured; give one of '
                              f'{", ".join(self.loss_names)}')
        for key in self.loss_names:
            setattr(self, key, build_loss(losses.get(key)))
        if not isinstance(reused_teacher_head_idx, int) or \
                isinstance(reused_teacher_head_idx, bool) or \
                reused_teacher_head_idx < 0:
            raise ConfigError(
                f'{name}: reused_teacher_head_idx={reused_teacher_head_idx!r}'
                '; expected an int in 0..stacked_convs')
        self.idx = reused_teacher_head_idx
        self.adapter_cfg = dict(adapter) if adapter else None
        self.adapters = nn.ModuleDict()  # teacher -> ModuleDict(cls=, reg=)
        self._teacher_of: Dict[int, str] = {}

    # what to record -------------------------------------------------------
    def _hold_recorders(self, head: str) -> Dict[str, dict]:
        if self.idx == 0:  # the head's input: the FPN levels
            return dict(feats=dict(type='ModuleInputs', source=head))
        return {f'{b}_hold': dict(type='AllCallsOutputs',
                                  source=f'{head}.{b}_convs.{self.idx - 1}')
                for b in ('cls', 'reg')}

    def student_recorders(self) -> Dict[str, dict]:
        """The tower features at depth i (every level) and the targets the
        head's own ``loss`` assigns."""
        recs = self._hold_recorders(self.student_head)
        recs['targets'] = dict(type='MethodOutputs',
                               source=f'{self.student_head}.get_targets')
        return recs

    def teacher_recorders(self) -> Dict[str, dict]:
        """The teacher head's outputs and its tower features at depth i
        (their statistics)."""
        recs = self._hold_recorders(self.teacher_head)
        recs['outs'] = dict(type='ModuleOutputs', source=self.teacher_head)
        return recs

    @staticmethod
    def holds(recorded: dict) -> Tuple[List[Tensor], List[Tensor]]:
        """(cls branch, reg branch) features at depth i, per level."""
        if 'feats' in recorded:
            feats = list(recorded['feats'][0])
            return feats, feats
        return list(recorded['cls_hold']), list(recorded['reg_hold'])

    # build time ----------------------------------------------------------
    def _width(self, head: nn.Module) -> int:
        return head.in_channels if self.idx == 0 else head.feat_channels

    def check(self, student: nn.Module, teacher: nn.Module, teacher_name: str,
              owner: str) -> None:
        s_head = self.head_of(student, 'student', owner)
        t_head = self.head_of(teacher, 'teacher', owner)
        name = type(self).__name__
        for side, head in (('student', s_head),
                           (f'teachers.{teacher_name}', t_head)):
            missing = [a for a in ('cls_convs', 'reg_convs', 'stacked_convs',
                                   'feat_channels') + self.layers
                       if not hasattr(head, a)]
            if missing:
                raise ConfigError(
                    f'{owner}: {name} needs {self.family} heads; the {side} '
                    f'head is {type(head).__name__} (no '
                    f'{", ".join(missing)})')
            if self.idx > head.stacked_convs:
                raise ConfigError(
                    f'{owner}: reused_teacher_head_idx={self.idx} but the '
                    f'{side} head has stacked_convs={head.stacked_convs}; '
                    f'expected 0..{head.stacked_convs}')
        refuse_class_mismatch(
            owner, teacher_name, s_head.num_classes, t_head.num_classes,
            [k for k in self.class_losses if getattr(self, k) is not None])
        diff = HeadMismatch(owner, teacher_name)
        self.compare_heads(diff, s_head, t_head)
        diff.raise_if_any()
        s_width, t_width = self._width(s_head), self._width(t_head)
        if s_width != t_width:
            if self.adapter_cfg is None:
                raise ConfigError(
                    f'{owner}: the student head\'s features at '
                    f'reused_teacher_head_idx={self.idx} have {s_width} '
                    f'channels, teachers.{teacher_name}\'s {t_width}; add '
                    "adapter=dict(type='ConvAdapter') or pick heads of one "
                    'width')
            pair = nn.ModuleDict()
            for branch in ('cls', 'reg'):
                cfg = dict(self.adapter_cfg)
                cfg.pop('_scope_', None)
                cfg.setdefault('in_channels', s_width)
                cfg.setdefault('out_channels', t_width)
                pair[branch] = MODELS.build(cfg)
            self.adapters[teacher_name] = pair
        self._teacher_of[id(teacher)] = teacher_name
        object.__setattr__(self, '_student_head_module', s_head)

    def compare_heads(self, diff: HeadMismatch, s_head: nn.Module,
                      t_head: nn.Module) -> None:
        """What must agree for the teacher's predictions to describe the
        student's priors (strides, anchors, box encoding)."""
        diff.compare_priors(s_head.prior_generator, t_head.prior_generator)

    # every step ----------------------------------------------------------
    def cross_head(self, student: dict, teacher: dict,
                   teacher_model: nn.Module) -> Tuple[List[Tensor], ...]:
        """The cross-head predictions: per output of the teacher head, one
        tensor per level."""
        t_head = self.head_of(teacher_model, 'teacher', '')
        s_cls, s_reg = self.holds(student)
        t_cls, t_reg = self.holds(teacher)
        adapters = self.adapters[self._teacher_of[id(teacher_model)]] \
            if len(self.adapters) else None
        outs = []
        for level, feats in enumerate(zip(s_cls, s_reg, t_cls, t_reg)):
            outs.append(self.cross_level(t_head, level, *feats, adapters))
        return tuple(list(o) for o in zip(*outs))

    def cross_level(self, t_head: nn.Module, level: int, s_cls: Tensor,
                    s_reg: Tensor, t_cls: Tensor, t_reg: Tensor,
                    adapters: Optional[nn.ModuleDict] = None) -> tuple:
        """One level of :meth:`cross_head`."""
        if adapters is not None:
            s_cls, s_reg = adapters['cls'](s_cls), adapters['reg'](s_reg)
        cls_feat = align_scale(s_cls, t_cls)
        reg_feat = align_scale(s_reg, t_reg)
        if self.idx != 0:
            cls_feat, reg_feat = F.relu(cls_feat), F.relu(reg_feat)
        for i in range(self.idx, t_head.stacked_convs):
            cls_feat = t_head.cls_convs[i](cls_feat)
            reg_feat = t_head.reg_convs[i](reg_feat)
        return self.predict(t_head, level, cls_feat, reg_feat)

    def predict(self, t_head: nn.Module, level: int, cls_feat: Tensor,
                reg_feat: Tensor) -> tuple:
        """The teacher head's prediction layers on the tower's output, as
        its ``forward_single`` applies them."""
        raise NotImplementedError

    def loss(self, student, teacher, teacher_model,
             data_samples) -> Dict[str, Tensor]:
        cross = self.cross_head(student, teacher, teacher_model)
        return self.kd_losses(cross, tuple(teacher['outs']),
                              student['targets'], data_samples)

    def kd_losses(self, cross: tuple, teacher: tuple, targets: tuple,
                  data_samples) -> Dict[str, Tensor]:
        """The distillation terms from the cross-head predictions, the
        teacher's predictions and the student head's targets."""
        raise NotImplementedError
