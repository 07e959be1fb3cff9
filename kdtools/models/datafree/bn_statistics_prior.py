"""DeepInversion's BN-statistics prior over every BatchNorm of the teacher,
with Fast-Datafree's momentum variant."""
from contextlib import contextmanager
from typing import Dict, List

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from kdtools.registry import MODELS
from kdtools.utils.errors import ConfigError


def batch_statistics(h: Tensor):
    """Per-channel mean and biased variance of a BN input ``(B, C, ...)``
    over every dimension but the channels: ``(C,)``, ``(C,)``."""
    flat = h.transpose(0, 1).reshape(h.shape[1], -1)
    return flat.mean(1), flat.var(1, unbiased=False)


@MODELS.register_module()
class BNStatisticsPrior(nn.Module):
    """The BN-statistics prior of DeepInversion (Yin et al., "Dreaming to
    Distill: Data-free Knowledge Transfer via DeepInversion", CVPR 2020),
    with the momentum variant of Fast-Datafree (Fang et al., AAAI 2022,
    ``datafree/hooks.py::DeepInversionHook``); DATAFREE.md 2.4::

        L_BN(x) = sum_l ||var_l,run - var~_l||_2 + ||mu_l,run - mu~_l||_2
        mu~_l   = (1-m) mu^_l + m mu_l^mmt    (mu~ = mu^ before any EMA)
        var~_l  = (1-m) var^_l + m var_l^mmt

    ``mu^_l``, ``var^_l``: per-channel batch mean and biased variance of the
    input ``h_l (B, C_l, H_l, W_l)`` of the teacher's BN layer l (read by a
    forward hook while :meth:`recording`); ``mu_l,run``, ``var_l,run``: its
    running buffers (constants; the teacher is in eval mode). Plain L2 norms
    summed over layers, no per-layer normalisation. After a synthesis round
    :meth:`update_momentum` moves the EMA to the last recorded statistics:
    ``mu^mmt <- m mu^mmt + (1-m) mu^`` (initialised to the first round's).
    ``momentum=0`` is plain DeepInversion.

    The EMA (one ``(C_l,)`` mean and variance per layer, and whether it is
    initialised) is kept in buffers, so checkpoints carry it.

    Args:
        momentum (float): m (``bn_mmt``, 0.9 in Fast's scripts).
    """

    def __init__(self, momentum: float = 0.9) -> None:
        super().__init__()
        if not 0 <= momentum < 1:
            raise ConfigError(f'BNStatisticsPrior: momentum={momentum}; '
                              'expected 0 <= momentum < 1')
        self.momentum = float(momentum)
        self._layers: List[_BatchNorm] = []
        self._handles = []
        self._active = False
        self._terms: Dict[int, Tensor] = {}
        self._stats: Dict[int, tuple] = {}
        self.register_buffer('mmt_initialised',
                             torch.zeros((), dtype=torch.bool))

    def attach(self, teacher: nn.Module, owner: str = 'model') -> int:
        """Hook every BatchNorm of ``teacher`` (kept out of this module's
        tree). Refuses a teacher without BN layers. Returns their number."""
        layers = [m for m in teacher.modules() if isinstance(m, _BatchNorm)
                  and m.track_running_stats and m.running_mean is not None]
        if not layers:
            raise ConfigError(
                f'{owner}: the teacher ({type(teacher).__name__}) has no '
                'BatchNorm layers with running statistics, which the '
                'BN-statistics prior needs; switch the term off with '
                f'{owner}.synthesis.bn_weight=0')
        self._layers = layers
        for i, layer in enumerate(layers):
            c = layer.running_mean.numel()
            self.register_buffer(f'mmt_mean_{i}', torch.zeros(c))
            self.register_buffer(f'mmt_var_{i}', torch.ones(c))
            self._handles.append(layer.register_forward_hook(self._hook(i)))
        return len(layers)

    def _hook(self, i: int):
        def hook(module, inputs, output):
            if not self._active:
                return
            mean, var = batch_statistics(inputs[0])
            self._stats[i] = (mean.detach(), var.detach())
            m = self.momentum
            if m and bool(self.mmt_initialised):
                mean = (1 - m) * mean + m * getattr(self, f'mmt_mean_{i}')
                var = (1 - m) * var + m * getattr(self, f'mmt_var_{i}')
            self._terms[i] = (
                torch.norm(module.running_var.detach() - var, 2) +
                torch.norm(module.running_mean.detach() - mean, 2))
        return hook

    @contextmanager
    def recording(self):
        """Hooks on: a teacher forward in the block records each layer's
        term and statistics (replacing the previous forward's)."""
        self._active = True
        try:
            yield self
        finally:
            self._active = False

    def loss(self) -> Tensor:
        """L_BN of the last teacher forward (scalar with gradient)."""
        if not self._terms:
            raise RuntimeError('BNStatisticsPrior: no teacher forward was '
                               'recorded')
        return torch.stack([self._terms[i] for i in sorted(self._terms)]
                           ).sum()

    def reset(self) -> None:
        """Forget what was recorded (call before each teacher forward)."""
        self._terms, self._stats = {}, {}

    @torch.no_grad()
    def update_momentum(self) -> None:
        """The EMA step after a synthesis round, from the statistics of the
        last recorded teacher forward."""
        if not self.momentum or not self._stats:
            return
        m = self.momentum
        for i, (mean, var) in self._stats.items():
            mmt_mean = getattr(self, f'mmt_mean_{i}')
            mmt_var = getattr(self, f'mmt_var_{i}')
            if bool(self.mmt_initialised):
                mmt_mean.mul_(m).add_((1 - m) * mean)
                mmt_var.mul_(m).add_((1 - m) * var)
            else:
                mmt_mean.copy_(mean)
                mmt_var.copy_(var)
        self.mmt_initialised.fill_(True)
