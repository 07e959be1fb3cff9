from .hooks import TeacherEvalHook
from .runner_utils import (build_runner, find_resume_checkpoint,
                           setup_cpu_distributed)

__all__ = [
    'TeacherEvalHook', 'build_runner', 'find_resume_checkpoint',
    'setup_cpu_distributed'
]
