from typing import Optional

from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict
from torch import nn

from kdtools.registry import OPTIM_WRAPPER_CONSTRUCTORS
from kdtools.utils.errors import ConfigError


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DistillerOptimWrapperConstructor:
    """Two optimizers for adversarial distillation: ``student`` (the
    student and the adapters: everything trainable but the critic) and
    ``discriminator`` (the critic), as an ``OptimWrapperDict``.

    Config (a diff on the student's own ``optim_wrapper``)::

        optim_wrapper = dict(
            _delete_=True,
            constructor='DistillerOptimWrapperConstructor',
            student={{_base_.optim_wrapper}},
            discriminator=dict(type='OptimWrapper',
                               optimizer=dict(type='Adam', lr=1e-4,
                                              betas=(0.5, 0.9))))

    Each entry may carry its own ``paramwise_cfg``.
    """

    def __init__(self, optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        cfg = dict(optim_wrapper_cfg)
        missing = [k for k in ('student', 'discriminator') if k not in cfg]
        unknown = sorted(set(cfg) - {'student', 'discriminator'})
        if missing or unknown:
            raise ConfigError(
                'optim_wrapper (DistillerOptimWrapperConstructor): expected '
                f'keys student and discriminator; missing {missing}'
                f'{f", unknown {unknown}" if unknown else ""}')
        self.cfgs = {}
        for key in ('student', 'discriminator'):
            sub = dict(cfg[key])
            self.cfgs[key] = (sub, sub.pop('paramwise_cfg', paramwise_cfg))

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        model = getattr(model, 'module', model)
        if getattr(model, 'discriminator', None) is None:
            raise ConfigError(
                'optim_wrapper has a discriminator entry but the model '
                f'({type(model).__name__}) has no discriminator=')
        student_side = nn.ModuleDict(
            {name: child for name, child in model.named_children()
             if name != 'discriminator' and
             any(p.requires_grad for p in child.parameters())})
        wrappers = {}
        for key, module in (('student', student_side),
                            ('discriminator', model.discriminator)):
            cfg, paramwise = self.cfgs[key]
            wrappers[key] = DefaultOptimWrapperConstructor(cfg, paramwise)(
                module)
        return OptimWrapperDict(**wrappers)
