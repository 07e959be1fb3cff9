"""Loss schedules: when each loss is on and how much it weighs.

``loss_schedules`` maps a loss name (a distillation term, a head distiller,
or ``student`` for the student's own task losses) to ``dict(warmup_iters,
start_iter, start_epoch, stop_iter, stop_epoch)``; this module checks them,
splits them by owner, reads the Runner's clock and turns a schedule into the
weight at that point.
"""
from typing import Dict, Iterable, Sequence, Tuple

from mmengine.logging import MessageHub

from kdtools.utils.errors import ConfigError

SCHEDULE_KEYS = ('warmup_iters', 'start_iter', 'start_epoch', 'stop_iter',
                 'stop_epoch')


def check_schedule(owner: str, schedule) -> None:
    """Refuse a schedule that is not a dict of known keys with integer
    values >= 0 (or None)."""
    if not isinstance(schedule, dict):
        raise ConfigError(f'{owner}={schedule!r}; expected a dict with '
                          f'some of {list(SCHEDULE_KEYS)}')
    unknown = set(schedule) - set(SCHEDULE_KEYS)
    if unknown:
        raise ConfigError(f'{owner}: unknown keys {sorted(unknown)}; '
                          f'expected some of {list(SCHEDULE_KEYS)}')
    for key, value in schedule.items():
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ConfigError(f'{owner}.{key}={value!r}; expected an '
                              'integer >= 0')


def split_schedules(loss_schedules, head_names: Sequence[str]
                    ) -> Tuple[dict, Dict[str, dict], Dict[str, dict]]:
    """Check every entry of ``loss_schedules`` and split them into the
    student's, the head distillers' and the rest (the distillation terms',
    checked against the terms when those are built)."""
    loss_schedules = dict(loss_schedules or {})
    for name, sched in loss_schedules.items():
        check_schedule(f'loss_schedules.{name}', sched)
    student = dict(loss_schedules.pop('student', None) or {})
    heads = {n: loss_schedules.pop(n) for n in list(loss_schedules)
             if n in head_names}
    return student, heads, loss_schedules


def progress() -> Tuple[int, int]:
    """The Runner's current (iteration, epoch), 0 outside a Runner."""
    hub = MessageHub.get_current_instance()
    return (hub.get_info('iter', 0) or 0), (hub.get_info('epoch', 0) or 0)


def schedule_factor(schedule: dict, it: int, epoch: int) -> float:
    """The weight of a scheduled loss at iteration ``it`` of ``epoch``: 0
    before its start and from its stop on, rising linearly over
    ``warmup_iters`` from its start, else 1."""
    if not schedule:
        return 1.0
    start = schedule.get('start_iter', 0)
    if it < start or epoch < (schedule.get('start_epoch') or 0):
        return 0.0
    stop_iter = schedule.get('stop_iter')
    stop_epoch = schedule.get('stop_epoch')
    if (stop_iter is not None and it >= stop_iter) or \
            (stop_epoch is not None and epoch >= stop_epoch):
        return 0.0
    warmup = schedule.get('warmup_iters', 0)
    if warmup:
        return min(1.0, (it - start + 1) / warmup)
    return 1.0


def active_terms(terms: Iterable, it: int, epoch: int) -> Dict[str, float]:
    """term name -> schedule weight, for terms whose weight is > 0."""
    factors = {t.name: schedule_factor(t.schedule, it, epoch) for t in terms}
    return {n: f for n, f in factors.items() if f > 0}


def scale_losses(losses: dict, factor: float) -> dict:
    """The ``loss`` entries of a loss dict multiplied by ``factor`` (a loss
    may be a list: mmdet gives one per level); others unchanged."""
    if factor == 1:
        return losses
    return {k: (v if 'loss' not in k else [x * factor for x in v]
                if isinstance(v, (list, tuple)) else v * factor)
            for k, v in losses.items()}
