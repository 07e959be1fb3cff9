import math
from typing import Optional

from mmengine.hooks import Hook

from kdtools.registry import HOOKS
from kdtools.utils.errors import KDToolsError


class NonFiniteLossError(KDToolsError, FloatingPointError):
    """A training loss or gradient norm became inf or nan."""


def _value(v) -> Optional[float]:
    try:
        return float(v.detach().float().mean()) if hasattr(v, 'detach') \
            else float(v)
    except (TypeError, ValueError):
        return None


@HOOKS.register_module()
class StopOnNonFiniteHook(Hook):
    """Stop training at the first iteration whose total loss, any loss term
    (the student's own task losses as well as ``distill.*``) or gradient norm
    is inf or nan, with one line naming the term and the iteration.

    It runs after the iteration's update and before every hook that saves
    (``CheckpointHook`` has priority ``VERY_LOW``), so the state the
    non-finite step produced is never written: the last checkpoint on disk is
    the last good one, and ``tools/train.py --resume`` continues from it.
    The gradient norm is the one mmengine's ``OptimWrapper`` logs when
    ``clip_grad`` is set; under ``AmpOptimWrapper`` a non-finite gradient is
    the loss scaler's business (that step is skipped), so only the losses are
    checked. ``tools/train.py`` adds this hook to every run that does not
    list it.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        bad = []
        for key, value in (outputs or {}).items():
            if 'loss' not in key:
                continue
            v = _value(value)
            if v is not None and not math.isfinite(v):
                bad.append(f'{key}={v}')
        if not bad and not self._amp(runner):
            hub = runner.message_hub
            if 'train/grad_norm' in hub.log_scalars:
                v = hub.get_scalar('train/grad_norm').current()
                if not math.isfinite(v):
                    bad.append(f'grad_norm={v}')
        if bad:
            raise NonFiniteLossError(
                f'training stopped at iteration {runner.iter + 1} (epoch '
                f'{runner.epoch + 1}): {", ".join(bad)}; expected finite '
                'losses. Nothing of this iteration was saved; the last '
                'checkpoint is the last good one (check the learning rate, '
                'the loss weights and the data)')

    @staticmethod
    def _amp(runner) -> bool:
        wrappers = getattr(runner.optim_wrapper, 'optim_wrappers', None) or \
            {'': runner.optim_wrapper}
        return any(type(w).__name__ == 'AmpOptimWrapper'
                   for w in wrappers.values())
