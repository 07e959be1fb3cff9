"""The teachers' evaluation: once per work dir, kept, and logged beside the
student's metrics at every validation."""
import hashlib
import json
import os
import os.path as osp
import random
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.dist import broadcast_object_list, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from kdtools.registry import HOOKS

_SHA256: Dict[tuple, str] = {}


def file_sha256(path: str) -> str:
    """sha256 of ``path``, computed once per process for a given file
    (keyed by real path, size and modification time)."""
    st = os.stat(path)
    key = (osp.realpath(path), st.st_size, st.st_mtime_ns)
    if key not in _SHA256:
        h = hashlib.sha256()
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                h.update(block)
        _SHA256[key] = h.hexdigest()
    return _SHA256[key]


def _scalar(value):
    """A numpy/torch scalar as a Python number; anything else as is."""
    if isinstance(value, np.generic) or (
            isinstance(value, torch.Tensor) and value.numel() == 1):
        return value.item()
    return value


def _plain(obj):
    """``obj`` as JSON gives it back (so stored and new keys compare)."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


@HOOKS.register_module()
class TeacherEvalHook(Hook):
    """Evaluate every teacher of a :class:`~kdtools.models.Distiller` with
    the run's validation dataloader and evaluator, each on its own data
    preprocessing, and log the results as ``teacher/<metric>``
    (``teacher/<name>/<metric>`` with several teachers): once when training
    starts, and beside the student's metrics at every validation.

    The result is kept in ``<work_dir>/<cache_file>`` with what it was
    computed from (the sha256 of the teacher's checkpoint file, the
    teacher's model config, the validation dataset and evaluator configs);
    a resumed or restarted run in the same work dir reuses it while all of
    these are unchanged, instead of evaluating again.

    Best-checkpoint saving keys on the student's metrics (the ones without
    the prefix): the teacher's are not in the evaluator's result.

    Args:
        cache_file (str): the file in the work dir. Defaults to
            ``'teacher_eval.json'``.
    """
    # after RuntimeInfoHook (VERY_HIGH) has put the student's metrics in
    # the message hub, before LoggerHook (BELOW_NORMAL) logs them
    priority = 'NORMAL'

    def __init__(self, cache_file: str = 'teacher_eval.json') -> None:
        self.cache_file = cache_file
        self.results: Dict[str, dict] = {}  # log prefix -> metrics

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        teachers = getattr(model, 'teacher_models', None)
        if not teachers or runner.val_loop is None:
            return
        path = osp.join(runner.work_dir, self.cache_file)
        keys = {name: self._key(runner, t) for name, t in teachers.items()}
        kept = [self._kept(path, keys)]
        broadcast_object_list(kept)  # every rank evaluates, or none
        kept = kept[0]
        fresh = {}
        for name, teacher in teachers.items():
            prefix = 'teacher' if len(teachers) == 1 else f'teacher/{name}'
            if name in kept:
                metrics, how = kept[name], f'kept in {path}, not re-run'
            else:
                metrics = self._evaluate(model, name, teacher,
                                         runner.val_loop)
                metrics = {k: _scalar(v) for k, v in metrics.items()}
                fresh[name], how = metrics, None
            if not metrics:
                runner.logger.warning(
                    f'teacher evaluation: {prefix} gave no metrics (it '
                    'predicted nothing?); check that its checkpoint matches '
                    'its config')
                continue
            self.results[prefix] = metrics
            self._log(runner, prefix, metrics, how)
        if fresh and is_main_process():
            self._save(path, keys, fresh, kept)

    def after_val_epoch(self, runner, metrics: Optional[dict] = None
                        ) -> None:
        """The teachers' metrics beside the student's in the validation
        log line and in the scalar logs."""
        for prefix, values in self.results.items():
            for key, value in values.items():
                if isinstance(value, (int, float)):
                    runner.message_hub.update_scalar(f'val/{prefix}/{key}',
                                                     value)

    # ------------------------------------------------------------------
    @staticmethod
    def _key(runner, teacher) -> Optional[dict]:
        """What an evaluation was computed from; None when the teacher's
        checkpoint file is not known (never reused then)."""
        ckpt = getattr(teacher, 'kdtools_checkpoint', None)
        if not ckpt or not osp.isfile(ckpt) or not is_main_process():
            return None
        cfg = runner.cfg
        return _plain(dict(
            checkpoint_sha256=file_sha256(ckpt), checkpoint=ckpt,
            teacher_config=getattr(teacher, 'kdtools_config', None),
            val_dataset=cfg.get('val_dataloader', {}).get('dataset'),
            val_evaluator=cfg.get('val_evaluator')))

    @staticmethod
    def _kept(path: str, keys: dict) -> dict:
        """teacher name -> metrics kept in ``path`` under the same key."""
        if not is_main_process() or not osp.isfile(path):
            return {}
        try:
            with open(path) as f:
                stored = json.load(f).get('teachers', {})
        except (OSError, ValueError, AttributeError):
            return {}
        return {name: entry['metrics'] for name, entry in stored.items()
                if isinstance(entry, dict) and keys.get(name) is not None
                and entry.get('key') == keys[name] and 'metrics' in entry}

    @staticmethod
    def _save(path: str, keys: dict, fresh: dict, kept: dict) -> None:
        entries = {name: dict(key=keys[name], metrics=_plain(m))
                   for name, m in {**kept, **fresh}.items()
                   if keys.get(name) is not None}
        if not entries:
            return
        tmp = f'{path}.tmp'
        with open(tmp, 'w') as f:
            json.dump(dict(teachers=entries), f, indent=1, sort_keys=True)
        os.replace(tmp, path)

    @staticmethod
    def _log(runner, prefix: str, metrics: dict, how: Optional[str]) -> None:
        shown = {f'{prefix}/{k}': v for k, v in metrics.items()}
        scalars = {k: v for k, v in shown.items()
                   if isinstance(v, (int, float))}
        for key, value in scalars.items():
            runner.message_hub.update_scalar(key, value)
        runner.visualizer.add_scalars(scalars, step=runner.iter)
        head = 'teacher evaluation' + (f' ({how})' if how else '') + ': '
        runner.logger.info(head + '  '.join(
            f'{k}: {v:.4f}' if isinstance(v, float) else f'{k}: {v}'
            for k, v in shown.items()))

    @staticmethod
    @torch.no_grad()
    def _evaluate(model, name: str, teacher, loop) -> Dict:
        """Teacher ``name`` on the validation set, through its own data
        preprocessor. The global random generators are left as they were
        (iterating a dataloader draws from them), so training is the same
        whether the evaluation ran or was reused."""
        from kdtools.models.distillers.teacher_preprocessing import \
            teacher_preprocessor
        preprocess = teacher_preprocessor(model, name)
        evaluator = loop.evaluator
        states = (random.getstate(), np.random.get_state())
        with torch.random.fork_rng(devices=[]):
            for data_batch in loop.dataloader:
                data = preprocess(data_batch, False)
                outputs = teacher(**data, mode='predict')
                evaluator.process(data_samples=outputs,
                                  data_batch=data_batch)
        random.setstate(states[0])
        np.random.set_state(states[1])
        return evaluator.evaluate(len(loop.dataloader.dataset))
