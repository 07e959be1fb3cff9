"""Head distillers' wiring (``head_distillers``: ``GFLHeadDistiller``,
``AnchorHeadDistiller``, ``RoIHeadDistiller``): building them, the recorders
they ask for on both sides (named ``<head distiller>/<key>``), and their
terms per teacher as ``distill.<name>.<loss>``."""
import re
from collections import OrderedDict
from typing import Dict, Tuple

from torch import Tensor, nn

from kdtools.registry import MODELS
from kdtools.utils.errors import ConfigError
from ..recorders import RecorderManager
from .input_wiring import checked
from .loss_schedule import progress, schedule_factor


def build_head_distillers(cfgs: dict) -> nn.ModuleDict:
    built = nn.ModuleDict()
    for name, cfg in cfgs.items():
        cfg = dict(cfg)
        cfg.pop('_scope_', None)
        if 'type' not in cfg:
            raise ConfigError(
                f'head_distillers.{name}: no type (GFLHeadDistiller, '
                'AnchorHeadDistiller, RoIHeadDistiller)')
        if not re.fullmatch(r'\w+', name):
            raise ConfigError(f'head_distillers: name {name!r} must be '
                              'a Python identifier')
        built[name] = MODELS.build(cfg)
    return built


def head_recorders(head_distillers: nn.ModuleDict) -> Tuple[dict, dict]:
    """The recorders the head distillers ask for: (student side, teacher
    side), each ``'<head distiller>/<key>' -> recorder config``."""
    student, teacher = {}, {}
    for hd_name, hd in head_distillers.items():
        for key, cfg in hd.student_recorders().items():
            student[f'{hd_name}/{key}'] = cfg
        for key, cfg in hd.teacher_recorders().items():
            teacher[f'{hd_name}/{key}'] = cfg
    return student, teacher


def _recorded(manager: RecorderManager, prefix: str) -> dict:
    """What ``manager`` recorded for one head distiller, by its key."""
    return {k[len(prefix):]: r.get() for k, r in manager.recorders.items()
            if k.startswith(prefix)}


def head_distill_losses(head_distillers: nn.ModuleDict,
                        schedules: Dict[str, dict],
                        student_recorders: RecorderManager,
                        teachers: Dict[str, nn.Module],
                        teacher_recorders: Dict[str, RecorderManager],
                        teacher_weights: Dict[str, float],
                        data_samples) -> Dict[str, Tensor]:
    """The head distillers' terms, per teacher (weighted as
    ``teacher_weights`` says when there are several), scheduled, as
    ``distill.<name>.<loss>``."""
    out = OrderedDict()
    if not head_distillers:
        return out
    it, epoch = progress()
    teachers = list(teachers.items())
    for hd_name, hd in head_distillers.items():
        factor = schedule_factor(schedules.get(hd_name, {}), it, epoch)
        prefix = f'{hd_name}/'
        student = _recorded(student_recorders, prefix)
        totals = OrderedDict()
        for t_name, model in teachers:
            manager = teacher_recorders[t_name]
            teacher = _recorded(manager, prefix)
            with manager.resume():
                values = hd.loss(student, teacher, model, data_samples)
            weight = teacher_weights[t_name] if len(teachers) > 1 else 1.
            for key, value in values.items():
                totals[key] = totals.get(key, 0.) + weight * value
        for key, value in totals.items():
            name = f'{hd_name}.{key}'
            out[f'distill.{name}'] = checked(value * factor, name, it)
    return out
