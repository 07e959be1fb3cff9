from .runner_utils import (build_runner, find_resume_checkpoint,
                           setup_cpu_distributed)

__all__ = ['build_runner', 'find_resume_checkpoint', 'setup_cpu_distributed']
