from .module_recorder import ModuleInputs, ModuleOutputs, get_submodule
from .recorder_manager import RecorderManager

__all__ = ['ModuleInputs', 'ModuleOutputs', 'RecorderManager',
           'get_submodule']
