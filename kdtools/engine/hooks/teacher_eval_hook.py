from typing import Dict

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from kdtools.registry import HOOKS


@HOOKS.register_module()
class TeacherEvalHook(Hook):
    """Evaluate every teacher of a :class:`~kdtools.models.Distiller` once
    per run, before training, with the run's own validation dataloader and
    evaluator, and log the results as ``teacher/<metric>`` (``teacher/
    <name>/<metric>`` with several teachers).

    The student is validated as usual by the Runner; best-checkpoint saving
    keys on the student's metrics, which are the ones without the prefix.
    """
    priority = 'LOW'

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        teachers = getattr(model, 'teacher_models', None)
        if not teachers or runner.val_loop is None:
            return
        loop = runner.val_loop
        for name, teacher in teachers.items():
            metrics = self._evaluate(model, teacher, loop)
            prefix = 'teacher' if len(teachers) == 1 else f'teacher/{name}'
            if not metrics:
                runner.logger.warning(
                    f'teacher evaluation: {prefix} gave no metrics (it '
                    'predicted nothing?); check that its checkpoint matches '
                    'its config')
                continue
            shown = {f'{prefix}/{k}': v for k, v in metrics.items()}
            for key, value in shown.items():
                if isinstance(value, (int, float)):
                    runner.message_hub.update_scalar(key, value)
            runner.visualizer.add_scalars(
                {k: v for k, v in shown.items()
                 if isinstance(v, (int, float))}, step=runner.iter)
            runner.logger.info('teacher evaluation: ' + '  '.join(
                f'{k}: {v:.4f}' if isinstance(v, float) else f'{k}: {v}'
                for k, v in shown.items()))

    @staticmethod
    @torch.no_grad()
    def _evaluate(model, teacher, loop) -> Dict:
        evaluator = loop.evaluator
        for data_batch in loop.dataloader:
            data = model.data_preprocessor(data_batch, False)
            outputs = teacher(**data, mode='predict')
            evaluator.process(data_samples=outputs, data_batch=data_batch)
        return evaluator.evaluate(len(loop.dataloader.dataset))
