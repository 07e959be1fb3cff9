"""One optimizer per part of a data-free distiller."""
from typing import Optional

from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict
from torch import nn

from kdtools.registry import OPTIM_WRAPPER_CONSTRUCTORS
from kdtools.utils.errors import ConfigError


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DataFreeOptimWrapperConstructor:
    """``student`` (the student's parameters) and ``generator`` (the
    meta-generator's: Fast-Datafree's meta optimizer, Adam with
    ``lr = lr_g * k`` and betas (0.5, 0.999)) as an ``OptimWrapperDict``.
    The inner per-round optimiser over the cloned generator and z is not
    one of them (it lives inside a synthesis round). Leave ``generator``
    out for a generator without parameters (``PixelGenerator``).

    Config::

        optim_wrapper = dict(
            _delete_=True, constructor='DataFreeOptimWrapperConstructor',
            student=dict(type='OptimWrapper', optimizer=dict(
                type='SGD', lr=0.2, momentum=0.9, weight_decay=1e-4)),
            generator=dict(type='OptimWrapper', optimizer=dict(
                type='Adam', lr=0.01, betas=(0.5, 0.999))))
    """

    KEYS = ('student', 'generator')

    def __init__(self, optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        cfg = dict(optim_wrapper_cfg)
        cfg.pop('_delete_', None)
        unknown = sorted(set(cfg) - set(self.KEYS))
        if 'student' not in cfg or unknown:
            raise ConfigError(
                'optim_wrapper (DataFreeOptimWrapperConstructor): expected '
                f'keys student (and generator); got {sorted(cfg)}')
        self.cfgs = {}
        for key in self.KEYS:
            if key in cfg:
                sub = dict(cfg[key])
                self.cfgs[key] = (sub, sub.pop('paramwise_cfg',
                                               paramwise_cfg))

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        model = getattr(model, 'module', model)
        wrappers = {}
        for key, (cfg, paramwise) in self.cfgs.items():
            part = getattr(model, key, None)
            if part is None or not any(True for _ in part.parameters()):
                raise ConfigError(
                    f'optim_wrapper.{key}: the model ({type(model).__name__})'
                    f' has no {key} with parameters; remove the entry')
            wrappers[key] = DefaultOptimWrapperConstructor(cfg, paramwise)(
                part)
        return OptimWrapperDict(**wrappers)
