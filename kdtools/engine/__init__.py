from .hooks import OptimizerResetHook, TeacherEvalHook
from .optimizers import DistillerOptimWrapperConstructor
from .runner_utils import (build_runner, find_resume_checkpoint,
                           setup_cpu_distributed)

__all__ = [
    'OptimizerResetHook',
    'DistillerOptimWrapperConstructor', 'TeacherEvalHook', 'build_runner', 'find_resume_checkpoint',
    'setup_cpu_distributed'
]
