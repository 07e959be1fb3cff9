"""The teacher cache (``teacher_cache=True``): what the distillation terms
read from the teachers, kept per training sample, so that a batch whose
samples are all kept skips the teacher forward.

Only right when the training pipeline is deterministic (a sample is the same
input every epoch): the teachers never change. A loss with
``teacher_summary(**teacher inputs)`` keeps that instead of the features.
"""
from typing import Dict, List, Sequence

import torch

from kdtools.utils.errors import ConfigError
from ..recorders import RecorderManager
from .input_wiring import DistillTerm, teachers_involved


def check_cacheable(terms: Sequence[DistillTerm], head_distillers: bool,
                    discriminator: bool) -> None:
    """Refuse what the cache does not cover."""
    if head_distillers or discriminator or any(
            t.all_teachers_args for t in terms):
        raise ConfigError(
            'teacher_cache=True keeps what "teacher." inputs of '
            'distill_losses read; it does not cover head_distillers, '
            'the adversarial term or "teachers." inputs')


def sample_indices(data_samples) -> List[int]:
    """The data samples' ``sample_idx``: what the cache is keyed by."""
    idx = [ds.metainfo.get('sample_idx') for ds in data_samples or []]
    if not idx or any(i is None for i in idx):
        raise KeyError('teacher_cache=True needs each data sample\'s '
                       '"sample_idx" (packed by mmdet/mmseg/mmpretrain '
                       'Pack*Inputs by default); these have none')
    return [int(i) for i in idx]


class TeacherCache:
    """The teacher-side arguments of each term, per teacher and sample.

    Args:
        enabled (bool): keep what is read (``teacher_cache``); when False
            the arguments come from the recorders every batch.
        terms (list[DistillTerm]): the distillation terms.
        teachers (list[str]): the teachers' names, in order.

    ``kept``: term name -> teacher name -> sample index -> argument ->
    tensor (on the device the teacher runs on).
    """

    def __init__(self, enabled: bool, terms: Sequence[DistillTerm],
                 teachers: Sequence[str]) -> None:
        self.enabled = enabled
        self.terms = terms
        self.teachers = list(teachers)
        self.kept: Dict[str, Dict[str, dict]] = {}
        self.batch_idx = None  # the current batch's samples (when caching)
        self.cached_idx = None  # the same, when served from the cache

    def teachers_needed(self, needed: bool, data_samples,
                        active: Dict[str, float]) -> bool:
        """Start a batch: whether the teachers must run, ``needed`` unless
        the cache holds what every ``active`` term reads from them for
        every sample of the batch."""
        self.cached_idx = None
        if not (self.enabled and needed):
            return needed
        self.batch_idx = sample_indices(data_samples)
        if self._covers(active, self.batch_idx):
            self.cached_idx = self.batch_idx
            return False
        return True

    def _covers(self, active, idx) -> bool:
        for term in self.terms:
            if term.name not in active or not term.teacher_args:
                continue
            per_teacher = self.kept.get(term.name, {})
            for t in teachers_involved(term, self.teachers):
                kept = per_teacher.get(t, {})
                if any(i not in kept for i in idx):
                    return False
        return True

    def teacher_inputs(self, term: DistillTerm, t: str,
                       manager: RecorderManager) -> dict:
        """The teacher-side arguments of ``term`` for teacher ``t``: from
        its recorders ``manager`` (and kept when caching) or from the
        cache."""
        if not term.teacher_args:
            return {}
        if self.cached_idx is not None:
            kept = self.kept[term.name][t]
            rows = [kept[i] for i in self.cached_idx]
            return {k: torch.stack([r[k] for r in rows]) for k in rows[0]}
        kwargs = {arg: term.inputs[arg].fetch(manager)
                  for arg in term.teacher_args}
        if not self.enabled:
            return kwargs
        summarize = getattr(term.loss, 'teacher_summary', None)
        if summarize is not None:
            kwargs = {'teacher_summary': summarize(**kwargs)}
        kept = self.kept.setdefault(term.name, {}).setdefault(t, {})
        for j, i in enumerate(self.batch_idx):
            kept[i] = {k: v[j].detach() for k, v in kwargs.items()}
        return kwargs
