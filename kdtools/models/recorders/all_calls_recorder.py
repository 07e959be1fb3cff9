from typing import Optional

from kdtools.registry import MODELS
from .module_recorder import ModuleOutputs


@MODELS.register_module()
class AllCallsOutputs(ModuleOutputs):
    """Records the output of the module at ``source`` on every call, and
    gives back all of them: a module a shared head calls once per FPN level
    (``bbox_head.cls_convs.1``) yields one entry per level, in call order.
    :meth:`get` without ``call_index`` returns that list (``data_index``
    indexes into each entry); with ``call_index`` it reads one call, as
    :class:`ModuleOutputs`.

    Args:
        source (str): dotted module path.
    """
    kind = 'outputs of every call'

    def get(self, call_index: Optional[int] = None,
            data_index: Optional[int] = None):
        if call_index is not None:
            return super().get(call_index, data_index)
        if not self.data:
            raise RuntimeError(
                f'recorder of {self.source!r} ({self.kind}) recorded nothing '
                'in this forward: the module was not called')
        return [item if data_index is None else item[data_index]
                for item in self.data]
