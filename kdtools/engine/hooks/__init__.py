from .optimizer_reset_hook import OptimizerResetHook
from .teacher_eval_hook import TeacherEvalHook

__all__ = ['OptimizerResetHook', 'TeacherEvalHook']
