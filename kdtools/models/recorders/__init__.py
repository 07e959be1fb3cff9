from .all_calls_recorder import AllCallsOutputs
from .method_recorder import MethodInputs, MethodOutputs
from .module_recorder import ModuleInputs, ModuleOutputs, get_submodule
from .recorder_manager import RecorderManager

__all__ = ['AllCallsOutputs', 'MethodInputs', 'MethodOutputs',
           'ModuleInputs', 'ModuleOutputs', 'RecorderManager',
           'get_submodule']
