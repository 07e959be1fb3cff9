import random

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook

from kdtools.registry import HOOKS


def _random_state() -> dict:
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def _set_random_state(state: dict) -> None:
    random.setstate(tuple(
        tuple(x) if isinstance(x, list) else x for x in state['python']))
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Keep every rank's random generators (Python's ``random``, numpy's
    global generator, torch's CPU and CUDA generators) in each checkpoint,
    and restore them when training resumes from it.

    mmengine checkpoints the model, optimizer, schedulers and counters, and
    its ``DefaultSampler`` reorders each epoch from ``seed + epoch``, but the
    data transforms draw from the global generators (``RandomFlip``,
    ``RandomCrop``, ...), whose state a restarted process re-seeds: a resumed
    run then augments differently from an uninterrupted one. With this hook,
    resuming from a checkpoint repeats the uninterrupted run's augmentation
    when the transforms run in the main process (``num_workers=0``) or in
    workers re-created each epoch (``persistent_workers=False``: mmengine
    seeds them from the config's seed alone). Workers kept across epochs
    (``persistent_workers=True``) hold generators no checkpoint can reach;
    there a resumed run's augmentation differs. Loading weights with
    ``load_from`` (no resume) restores nothing. In a distributed run the
    ranks' states are gathered once per epoch (per iteration when checkpoints
    are saved by iteration); a checkpoint saved elsewhere (the best one,
    after validation) holds rank 0's alone. ``tools/train.py`` adds this
    hook to every run that does not list it.
    """

    # before CheckpointHook (VERY_LOW) in the same event
    priority = 'LOW'

    def __init__(self) -> None:
        self._states = None  # every rank's state, gathered at ``_at``
        self._at = None
        self._by_iter = False

    def before_train(self, runner) -> None:
        from mmengine.hooks import CheckpointHook
        self._by_iter = any(isinstance(h, CheckpointHook) and not h.by_epoch
                            for h in runner.hooks)

    def _gather(self, runner) -> None:
        """``Runner.save_checkpoint`` runs on rank 0 alone, so the ranks'
        states are gathered where every rank passes, just before the
        CheckpointHook of the same event saves (once per epoch, or once per
        iteration when checkpoints are saved by iteration)."""
        if get_world_size() > 1:
            self._states = all_gather_object(_random_state())
            self._at = runner.iter

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self._by_iter:
            self._gather(runner)

    def after_train_epoch(self, runner) -> None:
        self._gather(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if get_world_size() > 1 and self._at == runner.iter:
            states = self._states
        else:  # one process, or a save no gathering preceded (best ckpt):
            states = [_random_state()]  # this rank's alone
        checkpoint['random_state'] = states

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('random_state')
        if not getattr(runner, '_resume', False) or not states:
            return
        rank = get_rank()
        if rank < len(states):
            _set_random_state(states[rank])
