from typing import Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log

from kdtools.registry import HOOKS


@HOOKS.register_module()
class OptimizerResetHook(Hook):
    """Clear the optimizer's state (Adam moments, SGD momentum) when a
    training stage begins, so the stage starts a fresh optimisation, as the
    two stages of FSP (Yim et al., CVPR 2017) do: with Adam, stage 1's FSP
    gradients (losses in the thousands) would otherwise leave second moments
    that shrink stage 2's steps for hundreds of iterations.

    Runs before the first iteration of each listed epoch (0-based, the
    Runner's epoch counter), so a resumed run at a later epoch does not
    reset again.

    Args:
        epochs (Sequence[int]): epochs at whose start the state is cleared.
    """

    priority = 'NORMAL'

    def __init__(self, epochs: Sequence[int]) -> None:
        epochs = [epochs] if isinstance(epochs, int) else list(epochs)
        if not epochs or any(not isinstance(e, int) or e < 0 for e in epochs):
            raise ValueError(f'OptimizerResetHook epochs={epochs!r}; '
                             'expected epoch numbers >= 0')
        self.epochs = set(epochs)

    def before_train_epoch(self, runner) -> None:
        if runner.epoch not in self.epochs:
            return
        wrapper = runner.optim_wrapper
        wrappers = getattr(wrapper, 'optim_wrappers', None) or \
            {'optimizer': wrapper}
        for w in wrappers.values():
            w.optimizer.state.clear()
        print_log(f'kdtools: optimizer state cleared at epoch {runner.epoch}'
                  ' (a new training stage)', logger='current')
