from .datafree_visualization_hook import DataFreeVisualizationHook
from .optimizer_reset_hook import OptimizerResetHook
from .random_state_hook import RandomStateHook
from .stop_on_non_finite_hook import NonFiniteLossError, StopOnNonFiniteHook
from .teacher_eval_hook import TeacherEvalHook

__all__ = ['DataFreeVisualizationHook', 'NonFiniteLossError',
           'OptimizerResetHook', 'RandomStateHook', 'StopOnNonFiniteHook',
           'TeacherEvalHook']
