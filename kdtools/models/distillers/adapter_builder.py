"""Adapters from recorded shapes: one dummy forward at build time records
every side; each term's adapters take their channels from the recorded
shapes, and inputs a loss compares element-wise are refused, naming both
sides, when their shapes differ."""
from collections import OrderedDict
from typing import Dict, Iterable, Sequence

import torch
from torch import nn

from kdtools.registry import MODELS
from kdtools.utils.errors import ConfigError
from ..recorders import RecorderManager
from .input_wiring import DistillTerm, InputRef, check_refs, teachers_of
from .partial_forward import forward_to


def dummy_forward(input_shape: Sequence[int], refs: Iterable[InputRef],
                  student: nn.Module, student_recorders: RecorderManager,
                  teachers: Dict[str, nn.Module],
                  teacher_recorders: Dict[str, RecorderManager]) -> None:
    """Record one forward of a dummy batch on every side (eval mode), as
    far as the recorders ``refs`` read need, and check that every reference
    reads something recorded (:func:`check_refs`: e.g. ``student.fpn.4`` on
    a 3-level FPN is refused here, naming the reference and the length)."""
    x = torch.zeros((1, ) + tuple(input_shape))
    refs = list(refs)
    used = {side: {r.recorder for r in refs if r.side.rstrip('s') == side}
            for side in ('student', 'teacher')}
    was_training = student.training
    student.eval()
    try:
        with torch.no_grad():
            for name, model in teachers.items():
                manager = teacher_recorders[name]
                with manager.record():
                    forward_to(model, x, None,
                               manager.sources_of(used['teacher']))
            with student_recorders.record():
                forward_to(student, x, None,
                           student_recorders.sources_of(used['student']))
    finally:
        student.train(was_training)
    check_refs(refs, student_recorders, teacher_recorders)


def build_adapters(terms: Sequence[DistillTerm],
                   student_recorders: RecorderManager,
                   teacher_recorders: Dict[str, RecorderManager]
                   ) -> 'OrderedDict[str, nn.ModuleDict]':
    """After :func:`dummy_forward`: term name -> teacher name -> adapter,
    for the terms with an ``adapter``, channels from the recorded shapes;
    the others' shapes checked (:func:`check_same_shapes`)."""
    adapters = OrderedDict()
    for term in terms:
        if not term.adapter_cfg:
            check_same_shapes(term, student_recorders, teacher_recorders)
            continue
        s_ref = term.inputs[term.student_args[0]]
        t_ref = term.inputs[term.teacher_args[0]]
        s_shape = tuple(s_ref.fetch(student_recorders).shape)
        per_teacher = nn.ModuleDict()
        for t in teachers_of(t_ref, teacher_recorders):
            t_shape = tuple(t_ref.fetch(teacher_recorders[t]).shape)
            if len(s_shape) != 4 or len(t_shape) != 4:
                raise ConfigError(
                    f'distill_losses.{term.name}.adapter: needs (N, C, H, '
                    f'W) features; student {s_ref.text} is {s_shape}, '
                    f'teachers.{t}: {t_ref.text} is {t_shape}')
            cfg = dict(term.adapter_cfg)
            cfg.pop('_scope_', None)
            cfg.setdefault('in_channels', s_shape[1])
            cfg.setdefault('out_channels', t_shape[1])
            if cfg['in_channels'] != s_shape[1]:
                raise ConfigError(
                    f'distill_losses.{term.name}.adapter: in_channels='
                    f'{cfg["in_channels"]} but student {s_ref.text} is '
                    f'{s_shape}')
            adapter = MODELS.build(cfg)
            if cfg.get('align') == 'none' and s_shape[2:] != t_shape[2:]:
                raise ConfigError(
                    f'distill_losses.{term.name}.adapter: align="none" '
                    f'but student {s_ref.text} {s_shape} and teacher '
                    f'{t_ref.text} {t_shape} differ in size')
            per_teacher[t] = adapter
        adapters[term.name] = per_teacher
    return adapters


def check_same_shapes(term: DistillTerm, student_recorders: RecorderManager,
                      teacher_recorders: Dict[str, RecorderManager]) -> None:
    """Build-time shape checks: a loss's own ``check_shapes(shapes)``
    (arg -> shape, teacher-side args per teacher), and for losses that
    compare element-wise (``requires_same_shape``) student against
    teacher."""
    check = getattr(term.loss, 'check_shapes', None)
    t_args = term.teacher_args + term.all_teachers_args
    if check is not None and t_args:
        s_shapes = {a: tuple(term.inputs[a].fetch(student_recorders).shape)
                    for a in term.student_args}
        for t in teachers_of(term.inputs[t_args[0]], teacher_recorders):
            shapes = dict(s_shapes)
            shapes.update({a: tuple(term.inputs[a].fetch(
                teacher_recorders[t]).shape) for a in t_args})
            try:
                check(shapes)
            except ValueError as e:
                raise ConfigError(
                    f'distill_losses.{term.name}: teachers.{t}: {e}') \
                    from None
    if not getattr(term.loss, 'requires_same_shape', False) or \
            not (term.student_args and t_args):
        return
    t_ref = term.inputs[t_args[0]]
    for arg in term.student_args:
        s_ref = term.inputs[arg]
        s_shape = tuple(s_ref.fetch(student_recorders).shape)
        for t in teachers_of(t_ref, teacher_recorders):
            t_shape = tuple(t_ref.fetch(teacher_recorders[t]).shape)
            if s_shape != t_shape:
                raise ConfigError(
                    f'distill_losses.{term.name}: {type(term.loss).__name__}'
                    f' compares student {s_ref.text} {s_shape} with '
                    f'teachers.{t}: {t_ref.text} {t_shape} element-wise, '
                    'but they differ (for class outputs: different class '
                    'counts); add an adapter or record comparable '
                    'tensors')


def reset_recorders(managers: Iterable[RecorderManager]) -> None:
    """Drop what the dummy forward recorded."""
    for manager in managers:
        for r in manager.recorders.values():
            r.reset()
