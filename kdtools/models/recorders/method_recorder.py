from typing import Callable

from torch import nn

from kdtools.registry import MODELS
from kdtools.utils.errors import ConfigError
from .module_recorder import ModuleOutputs, get_submodule


@MODELS.register_module()
class MethodOutputs(ModuleOutputs):
    """Records what a method of a sub-module returns, e.g.
    ``'bbox_head.get_targets'`` (the assigned labels and regression targets
    the head computes inside its own ``loss``) or ``'roi_head._bbox_forward'``.

    The method is wrapped on the instance only while the model is built;
    the wrapper records when recording is on and otherwise calls through,
    so the head's own code (which calls ``self.get_targets(...)``) is
    unchanged.

    Args:
        source (str): ``'<module path>.<method name>'``.
    """
    kind = 'method outputs'

    def prepare(self, model: nn.Module, owner: str) -> None:
        path, _, name = self.source.rpartition('.')
        module = get_submodule(model, path, owner)
        method = getattr(module, name, None)
        if not callable(method) or isinstance(method, nn.Module):
            methods = [m for m in dir(type(module)) if not m.startswith('__')
                       and callable(getattr(type(module), m, None))]
            close = [m for m in methods if 'target' in m or 'forward' in m]
            raise ConfigError(
                f'{owner}: {type(module).__name__} at {path!r} has no method '
                f'{name!r}; its methods include {", ".join(close[:10])}')
        module.__dict__[name] = self._wrap(method)
        self._handle = (module, name)

    def _wrap(self, method: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            out = method(*args, **kwargs)
            if self.recording:
                self.keep(out)
            return out
        wrapper.__wrapped__ = method
        return wrapper

    def remove(self) -> None:
        if self._handle is not None:
            module, name = self._handle
            module.__dict__.pop(name, None)
            self._handle = None


@MODELS.register_module()
class MethodInputs(MethodOutputs):
    """Records the arguments a method of a sub-module is called with, as
    ``(args, kwargs)``."""
    kind = 'method inputs'

    def _wrap(self, method: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            if self.recording:
                self.keep((args, kwargs))
            return method(*args, **kwargs)
        wrapper.__wrapped__ = method
        return wrapper
