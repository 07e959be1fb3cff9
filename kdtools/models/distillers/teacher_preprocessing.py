"""Each teacher sees the input its checkpoint was trained for.

The Distiller's data preprocessor is :class:`DistillerDataPreprocessor`: it
returns the student's preprocessing of a batch (so ``predict``, ``tensor``,
validation and every tool see the student's input only) and, in training,
also ``teacher_inputs``: each teacher's own preprocessing (its own config's
``data_preprocessor``, built with the teacher) of the same raw batch, made
when a teacher first needs it.

- A teacher whose preprocessing equals the student's (same class, mean,
  std, channel order, padding) reuses the student's tensor: no second
  normalisation.
- A teacher whose config gives no ``data_preprocessor`` (mmengine's plain
  ``BaseDataPreprocessor``) gets the student's.
- Geometry: the same raw images, augmented once by the dataset pipeline,
  so boxes, crops and flips correspond. Both preprocessors pad at the bottom
  and right, so the images sit at the same place; the teacher's batch is
  then padded (with its own pad value) or cropped (padding only) to the
  student's batch shape, so features compared at equal strides have equal
  sizes and correspond pixel for pixel. A teacher padding to a divisor that
  does not divide the student's is warned about at build time: it then sees
  a batch shape its own config would not give (fine for FPN-style necks,
  which align their levels by size).
- The teacher's own batch augmentations are dropped (the teacher sees the
  batch as the student's pipeline made it); a student with batch
  augmentations (random resize, mixup) and a teacher whose preprocessing
  differs is refused: the teacher could not see the same augmented batch.
"""
import logging
from typing import Dict, Optional

import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseDataPreprocessor
from torch import Tensor, nn

from kdtools.utils.errors import ConfigError

# attributes that change data samples (labels, masks, boxes) or evaluation
# only, never the training input a teacher receives
_SAMPLE_ONLY = {'num_classes', 'to_onehot', 'pad_mask', 'mask_pad_value',
                'pad_seg', 'seg_pad_value', 'seg_pad_val', 'boxtype2tensor',
                'non_blocking', 'test_cfg', 'training', 'init_cfg',
                'batch_augments'}
_FLAGS = {'_enable_normalize', '_channel_conversion'}
_PLAIN = (bool, int, float, str, tuple, list, dict, type(None))


def signature(pp: nn.Module) -> tuple:
    """What decides the training input a preprocessor gives: its class, its
    buffers (mean, std) and its plain settings (channel order, padding)."""
    items = sorted(
        (k, repr(v)) for k, v in vars(pp).items()
        if (not k.startswith('_') or k in _FLAGS) and k not in _SAMPLE_ONLY
        and isinstance(v, _PLAIN))
    buffers = sorted((n, tuple(b.flatten().tolist()))
                     for n, b in pp.named_buffers())
    return (type(pp), tuple(items), tuple(buffers))


def has_batch_augments(pp: nn.Module) -> bool:
    augments = getattr(pp, 'batch_augments', None)
    return augments is not None and not (
        isinstance(augments, nn.ModuleList) and len(augments) == 0)


def pad_divisor(pp: nn.Module) -> int:
    """The divisor a preprocessor pads batches to (mmdet/mmpretrain
    ``pad_size_divisor``, mmseg ``size_divisor``), 1 if none."""
    for key in ('pad_size_divisor', 'size_divisor'):
        value = getattr(pp, key, None)
        if value:
            return int(value)
    return 1


def pad_value(pp: nn.Module) -> float:
    for key in ('pad_value', 'pad_val'):
        value = getattr(pp, key, None)
        if value is not None:
            return float(value)
    return 0.


def fit_to(x: Tensor, shape, value: float) -> Tensor:
    """``x`` (N, C, H, W) cropped or padded (bottom/right, with ``value``)
    to ``shape`` (H', W')."""
    h, w = int(shape[0]), int(shape[1])
    x = x[..., :h, :w]
    dh, dw = h - x.shape[-2], w - x.shape[-1]
    if dh or dw:
        x = F.pad(x, (0, dw, 0, dh), value=value)
    return x


class TeacherInputs:
    """The teachers' inputs for one training batch: made from the raw batch
    by each teacher's own preprocessor when first asked for (a teacher the
    schedule or the cache skips costs nothing), the student's for teachers
    whose preprocessing equals it."""

    def __init__(self, raw: dict, student_inputs: Tensor,
                 preprocessors: Dict[str, nn.Module]) -> None:
        self.raw = raw
        self.student_inputs = student_inputs
        self.preprocessors = preprocessors
        self._made: Dict[str, Tensor] = {}

    def get(self, name: str) -> Tensor:
        pp = self.preprocessors.get(name)
        if pp is None:
            return self.student_inputs
        if name not in self._made:
            data = pp(dict(self.raw), True)
            self._made[name] = fit_to(data['inputs'],
                                      self.student_inputs.shape[-2:],
                                      pad_value(pp))
        return self._made[name]


class DistillerDataPreprocessor(BaseDataPreprocessor):
    """The student's data preprocessor, plus each teacher's own in training
    (see the module docstring).

    Args:
        student (nn.Module): the student's data preprocessor; what this
            returns in every mode, and where unknown attributes (``mean``,
            ``std``, ...) are read.
        teachers (dict): teacher name -> the teacher's own data
            preprocessor (the one built with it; the teachers' modules
            stay hidden from the Distiller's module tree).
    """

    def __init__(self, student: nn.Module,
                 teachers: Dict[str, nn.Module]) -> None:
        super().__init__()
        self.student = student
        own, differ = {}, {}
        for name, pp in teachers.items():
            if type(pp) is BaseDataPreprocessor:
                print_log(f'teachers.{name}: its config gives no '
                          'data_preprocessor; it is fed the student\'s',
                          logger='current')
                continue
            own[name] = pp
            if signature(pp) == signature(student):
                continue
            _check_geometry(name, pp, student)
            pp.batch_augments = None
            differ[name] = pp
        # hidden: they belong to (and move with) their teachers
        object.__setattr__(self, '_own', own)
        object.__setattr__(self, '_differ', differ)

    @property
    def differing(self) -> Dict[str, nn.Module]:
        """Teacher name -> preprocessor, for the teachers whose input is
        not the student's."""
        return dict(self._differ)

    def for_teacher(self, name: str) -> nn.Module:
        """The preprocessor teacher ``name`` is evaluated with: its own, or
        the student's when its config gives none."""
        return self._own.get(name, self.student)

    def forward(self, data: dict, training: bool = False) -> dict:
        out = self.student(data, training)
        if not training or not self._differ:
            return out
        out = dict(out)
        out['teacher_inputs'] = TeacherInputs(
            data, out['inputs'], self._differ)
        return out

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == 'student':
                raise
            return getattr(super().__getattr__('student'), name)


def _check_geometry(name: str, pp: nn.Module, student: nn.Module) -> None:
    if has_batch_augments(student):
        raise ConfigError(
            f'teachers.{name}: its data_preprocessor differs from the '
            'student\'s (mean/std/channel order/padding), but the student\'s '
            'has batch_augments (random resize, mixup, ...) that the teacher '
            'could not see the same way; give the teacher the student\'s '
            'data_preprocessor settings or move the augmentation into the '
            'dataset pipeline')
    t_div, s_div = pad_divisor(pp), pad_divisor(student)
    if s_div % t_div:
        print_log(
            f'teachers.{name}: its data_preprocessor pads to multiples of '
            f'{t_div}, the student\'s to multiples of {s_div}; the teacher\'s '
            'input is padded to the student\'s batch shape so that features '
            f'correspond (a multiple of {t_div} only if the student\'s '
            'divisor is one)', logger='current', level=logging.WARNING)


def teacher_preprocessor(model, name: str) -> Optional[nn.Module]:
    """The preprocessor teacher ``name`` of ``model`` (a Distiller) is
    evaluated with."""
    pp = getattr(model, 'data_preprocessor', None)
    if isinstance(pp, DistillerDataPreprocessor):
        return pp.for_teacher(name)
    return getattr(model.teacher_models[name], 'data_preprocessor', pp)
