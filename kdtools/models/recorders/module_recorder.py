import difflib
from typing import Any, Callable, List, Optional

from torch import nn

from kdtools.registry import MODELS
from kdtools.utils.errors import ConfigError


def get_submodule(model: nn.Module, source: str, owner: str) -> nn.Module:
    """``model.get_submodule(source)`` with a build-time error that lists the
    closest existing module names."""
    try:
        return model.get_submodule(source) if source else model
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n]
        close = difflib.get_close_matches(source, names, n=5, cutoff=0.5)
        if not close:
            prefix = source.rsplit('.', 1)[0]
            close = [n for n in names if n.startswith(prefix)][:5] or \
                [n for n in names if '.' not in n][:8]
        raise ConfigError(
            f'{owner}: module {source!r} does not exist in the '
            f'{type(model).__name__}; closest names: {", ".join(close)}') \
            from None


@MODELS.register_module()
class ModuleOutputs:
    """Records the output of the module at dotted path ``source`` on every
    forward call while recording is on.

    A module called several times per forward (a shared head over FPN
    levels) records one entry per call, in call order. Indexing into tuple
    or list outputs (FPN levels) is done when the data is read
    (:meth:`get`).

    ``transform`` (set by the owner, e.g. a channels_last teacher's
    :func:`~kdtools.models.distillers.teacher_inference.recorded_as`) is
    applied to each record as it is kept.

    Args:
        source (str): dotted module path, e.g. ``'neck'`` or
            ``'backbone.layer3'``.
    """
    kind = 'outputs'

    def __init__(self, source: str) -> None:
        self.source = source
        self.data: List[Any] = []
        self.recording = False
        self.transform: Optional[Callable] = None
        self._handle = None

    def keep(self, item) -> None:
        """Append ``item`` (through ``transform`` where set)."""
        self.data.append(item if self.transform is None
                         else self.transform(item))

    def prepare(self, model: nn.Module, owner: str) -> None:
        module = get_submodule(model, self.source, owner)
        self._handle = module.register_forward_hook(self._hook)

    def _hook(self, module, inputs, outputs) -> None:
        if self.recording:
            self.keep(outputs)

    def reset(self) -> None:
        self.data = []

    def get(self, call_index: int = -1, data_index: Optional[int] = None):
        if not self.data:
            raise RuntimeError(
                f'recorder of {self.source!r} ({self.kind}) recorded nothing '
                'in this forward: the module was not called')
        item = self.data[call_index]
        if data_index is not None:
            item = item[data_index]
        return item

    def remove(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


@MODELS.register_module()
class ModuleInputs(ModuleOutputs):
    """Records the positional inputs of the module at ``source`` (a tuple;
    index 0 is the first argument)."""
    kind = 'inputs'

    def prepare(self, model: nn.Module, owner: str) -> None:
        module = get_submodule(model, self.source, owner)
        self._handle = module.register_forward_pre_hook(self._pre_hook)

    def _pre_hook(self, module, inputs) -> None:
        if self.recording:
            self.keep(inputs)

    def _hook(self, module, inputs, outputs) -> None:  # pragma: no cover
        pass
