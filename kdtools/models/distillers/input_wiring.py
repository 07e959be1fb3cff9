"""Input wiring: which recorded tensor feeds which argument of which loss.

Parses the ``inputs`` of ``distill_losses`` (``'student.fpn.0'``,
``'teacher:t1.logits'``, ``'teachers.logits'``, ``'data.gt_sem_seg'``) into
:class:`InputRef` s, builds the configured terms (:class:`DistillTerm`: the
loss, its wiring, its adapter config and schedule), checks the wiring against
the loss's ``forward`` signature and the recorders that exist, and says which
teachers a term or a reference is computed for.
"""
import inspect
import re
from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor

from kdtools.registry import MODELS
from kdtools.utils.errors import ConfigError
from ..recorders import RecorderManager

_REF = re.compile(
    r'^(student|teachers|teacher|data)(?::(\w+))?\.(\w+)((?:\.-?\d+)*)$')


class InputRef:
    """Where a loss argument comes from: ``'student.fpn.0'``,
    ``'teacher.fpn.0'`` (every teacher, the loss computed per teacher),
    ``'teacher:t1.fpn.0'`` (one teacher) or ``'teachers.logits'`` (the list
    of every teacher's value in the order of ``teachers``: the loss sees
    them all at once). The trailing integers index into the recorded output
    (FPN level, tuple element); ``call`` picks a call of a module called
    several times (default: the last). ``'data.inputs'`` is the preprocessed batch
    and ``'data.<field>'`` the data samples' field stacked (e.g.
    ``'data.gt_sem_seg'``, ``(N, 1, H, W)``)."""

    def __init__(self, spec, owner: str):
        call = -1
        if isinstance(spec, dict):
            spec = dict(spec)
            call = spec.pop('call', -1)
            text = spec.pop('ref', None)
            if text is None or spec:
                raise ConfigError(f'{owner}: input {spec!r} must be a string '
                                  'like "student.fpn.0" or dict(ref=..., '
                                  'call=N)')
            spec = text
        m = _REF.match(str(spec))
        if m is None:
            raise ConfigError(
                f'{owner}: input {spec!r} is not "student.<recorder>[.i]", '
                '"teacher.<recorder>[.i]", "teacher:<name>.<recorder>[.i]", '
                '"teachers.<recorder>[.i]" or "data.<field>"')
        self.side, self.teacher, self.recorder = m.group(1), m.group(2), \
            m.group(3)
        if self.side != 'teacher' and self.teacher:
            raise ConfigError(f'{owner}: input {spec!r}: only "teacher:" '
                              'names one teacher')
        self.indices = [int(i) for i in m.group(4).split('.') if i]
        self.call = call
        self.text = spec
        self.owner = owner

    def fetch(self, manager: RecorderManager, label: Optional[str] = None):
        """The referenced value from ``manager``'s recorders (or the batch);
        an index past the end of a recorded tuple/list is a one-line
        ConfigError naming the reference and the recorded length (checked
        at build time on the dummy forward, :func:`check_refs`)."""
        if self.side == 'data':
            return manager.field(self.recorder)
        item = manager[self.recorder].get(self.call)
        for depth, i in enumerate(self.indices):
            if isinstance(item, (list, tuple)) and \
                    not -len(item) <= i < len(item):
                where = '.'.join([self.recorder] +
                                 [str(j) for j in self.indices[:depth]])
                side = label or getattr(manager, 'owner', self.side)
                raise ConfigError(
                    f'{self.owner}: {self.text!r} indexes {i} into '
                    f'{where!r} of {side}, which recorded a '
                    f'{type(item).__name__} of {len(item)} (indices 0..'
                    f'{len(item) - 1})')
            item = item[i]
        return item


class DistillTerm:
    """One configured distillation loss: the module, its input wiring and
    its adapter."""

    def __init__(self, name, loss, inputs, adapter_cfg, schedule):
        self.name = name
        self.loss = loss
        self.inputs = inputs  # arg -> InputRef
        self.adapter_cfg = adapter_cfg
        self.schedule = schedule or {}

    @property
    def teacher_args(self):
        return [a for a, r in self.inputs.items() if r.side == 'teacher']

    @property
    def all_teachers_args(self):
        """Arguments fed the list of every teacher's value."""
        return [a for a, r in self.inputs.items() if r.side == 'teachers']

    @property
    def student_args(self):
        return [a for a, r in self.inputs.items() if r.side == 'student']

    @property
    def data_args(self):
        return [a for a, r in self.inputs.items() if r.side == 'data']


class Batch:
    """The current batch, for ``data.<field>`` inputs."""

    def __init__(self, inputs, data_samples) -> None:
        self.inputs = inputs
        self.data_samples = data_samples

    def field(self, name: str):
        if name == 'inputs':
            return self.inputs
        values = []
        for ds in self.data_samples or []:
            if name not in ds:
                raise KeyError(f'"data.{name}": the data samples have no '
                               f'{name!r}; they have {sorted(ds.keys())}')
            value = getattr(ds, name)
            values.append(getattr(value, 'data', value))
        return torch.stack(values)


def switched_on(cfgs: Optional[dict]) -> dict:
    """The entries of ``distill_losses`` / ``head_distillers`` not set to
    None (None switches an inherited term off)."""
    return {k: v for k, v in (cfgs or {}).items() if v is not None}


def build_terms(losses_cfg: dict, schedules: dict,
                student_recorders: RecorderManager,
                teacher_recorders: Dict[str, RecorderManager],
                head_names: Sequence[str]) -> List[DistillTerm]:
    """The terms of ``distill_losses``, each wired and checked against its
    loss's signature and the recorders both sides have; ``schedules``: the
    ``loss_schedules`` left for them (``head_names`` only name the head
    distillers in the error for a schedule of an unknown term)."""
    unknown = set(schedules) - set(losses_cfg)
    if unknown:
        raise ConfigError(f'loss_schedules names {sorted(unknown)}, '
                          'which are not in distill_losses '
                          f'{sorted(losses_cfg)} or head_distillers '
                          f'{sorted(head_names)}')
    terms = []
    for name, cfg in losses_cfg.items():
        owner = f'distill_losses.{name}'
        if 'loss' not in name:
            raise ConfigError(
                f'{owner}: mmengine sums only loss-dict keys containing '
                f'"loss", so {name!r} would be silently not trained; '
                f'rename it, e.g. "loss_{name}"')
        if name.endswith('lr'):
            raise ConfigError(
                f'{owner}: mmengine\'s LogProcessor logs every key ending in '
                f'"lr" as a learning rate (beside lr, unsmoothed), so '
                f'{name!r} would not log as a loss; rename it so that it '
                'does not end in "lr"')
        cfg = dict(cfg)
        inputs_cfg = cfg.pop('inputs', None)
        adapter_cfg = cfg.pop('adapter', None)
        if not inputs_cfg:
            raise ConfigError(f'{owner}: no inputs= (loss argument -> '
                              '"student.<recorder>" / '
                              '"teacher.<recorder>")')
        cfg.pop('_scope_', None)
        loss = MODELS.build(cfg)
        inputs = {arg: InputRef(ref, f'{owner}.inputs.{arg}')
                  for arg, ref in inputs_cfg.items()}
        check_signature(owner, loss, inputs)
        for arg, ref in inputs.items():
            _check_recorder(f'{owner}.inputs.{arg}', ref, student_recorders,
                            teacher_recorders)
        term = DistillTerm(name, loss, inputs, adapter_cfg,
                           schedules.get(name))
        if adapter_cfg and not (term.student_args and term.teacher_args):
            raise ConfigError(f'{owner}: an adapter maps a student input '
                              'to a teacher input; this loss needs both '
                              '(and "teacher.", not "teachers.", inputs)')
        if term.teacher_args and term.all_teachers_args:
            raise ConfigError(f'{owner}: mixes "teacher." (per teacher) '
                              'and "teachers." (all at once) inputs')
        terms.append(term)
    return terms


def _check_recorder(where: str, ref: InputRef,
                    student_recorders: RecorderManager,
                    teacher_recorders: Dict[str, RecorderManager]) -> None:
    """``ref`` names a recorder (and a teacher) that exists."""
    if ref.side == 'student' and ref.recorder not in student_recorders:
        raise ConfigError(
            f'{where}: {ref.text!r} names student recorder '
            f'{ref.recorder!r}; student_recorders are '
            f'{sorted(student_recorders.recorders)}')
    if ref.side in ('teacher', 'teachers'):
        names = [ref.teacher] if ref.teacher else list(teacher_recorders)
        for t in names:
            if t not in teacher_recorders:
                raise ConfigError(
                    f'{where}: no teacher named {t!r}; teachers '
                    f'are {sorted(teacher_recorders)}')
            if ref.recorder not in teacher_recorders[t]:
                raise ConfigError(
                    f'{where}: {ref.text!r} names recorder '
                    f'{ref.recorder!r}, which teacher {t!r} does '
                    'not have; its recorders are '
                    f'{sorted(teacher_recorders[t].recorders)}')


def check_signature(owner, loss, inputs) -> None:
    """The wired arguments are ones ``loss.forward`` takes, and every
    argument it requires is wired."""
    params = inspect.signature(loss.forward).parameters
    has_kwargs = any(p.kind == p.VAR_KEYWORD for p in params.values())
    names = [n for n, p in params.items()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    required = [n for n in names if params[n].default is
                inspect.Parameter.empty]
    unknown = [a for a in inputs if a not in names and not has_kwargs]
    missing = [r for r in required if r not in inputs]
    if unknown or missing:
        sig = f'{type(loss).__name__}.forward({", ".join(names)})'
        what = []
        if unknown:
            what.append(f'it has no argument {unknown}')
        if missing:
            what.append(f'{missing} not wired')
        raise ConfigError(f'{owner}: inputs {sorted(inputs)} do not match '
                          f'{sig}: {"; ".join(what)}')


def check_refs(refs, student_recorders: RecorderManager,
               teacher_recorders: Dict[str, RecorderManager]) -> None:
    """After the build-time dummy forward: every student/teacher reference
    of ``refs`` reads something that was recorded (an index out of range
    is a ConfigError naming the reference and the recorded length). A
    recorder the dummy forward does not reach (a method only the loss
    calls) is checked when it first records."""
    for ref in refs:
        if ref.side == 'student':
            managers = [(student_recorders, 'the student')]
        elif ref.side in ('teacher', 'teachers'):
            managers = [(teacher_recorders[t], f'teacher {t!r}')
                        for t in teachers_of(ref, teacher_recorders)]
        else:
            continue
        for manager, label in managers:
            if getattr(manager[ref.recorder], 'data', None):
                ref.fetch(manager, label)


def teachers_of(ref: InputRef, teachers: Sequence[str]) -> List[str]:
    """The teachers a teacher-side reference reads: the one it names, or
    all of ``teachers``."""
    return [ref.teacher] if ref.teacher else list(teachers)


def teachers_involved(term: DistillTerm, teachers: Sequence[str]
                      ) -> List[str]:
    """The teachers a term is computed for: those its inputs name, or
    every teacher when an input says just ``teacher.``."""
    named = {term.inputs[a].teacher for a in term.teacher_args}
    if not named:  # a student-only term: computed once
        return list(teachers)[:1]
    if None in named:
        return list(teachers)
    return sorted(named)


def all_teachers(ref: InputRef,
                 teacher_recorders: Dict[str, RecorderManager]) -> list:
    """A ``teachers.`` input: every teacher's value, in order."""
    return [ref.fetch(teacher_recorders[t]) for t in teacher_recorders]


def checked(total: Tensor, name: str, it: int) -> Tensor:
    """``total``, refused (naming the term and the iteration) when it is
    not finite."""
    if not bool(torch.isfinite(total).all()):
        raise FloatingPointError(
            f'distillation loss {name!r} became '
            f'{total.detach().flatten()[0].item()} at iteration {it} '
            '(check its loss_weight, temperature and inputs)')
    return total
