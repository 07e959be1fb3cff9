from contextlib import contextmanager
from typing import Dict

from torch import nn

from kdtools.registry import MODELS


class RecorderManager:
    """The recorders of one model (student or one teacher), by name.

    Args:
        recorders (dict): name -> recorder config (``type`` defaults to
            ``ModuleOutputs``) or a bare dotted module path.
        model (nn.Module): the model to hook.
        owner (str): how errors name this side, e.g. ``'student_recorders'``.
    """

    def __init__(self, recorders: Dict, model: nn.Module, owner: str) -> None:
        self.owner = owner
        self.recorders = {}
        for name, cfg in (recorders or {}).items():
            if isinstance(cfg, str):
                cfg = dict(type='ModuleOutputs', source=cfg)
            cfg = dict(cfg)
            cfg.setdefault('type', 'ModuleOutputs')
            cfg.pop('_scope_', None)
            recorder = MODELS.get(cfg.pop('type'))(**cfg)
            recorder.prepare(model, f'{owner}.{name}')
            self.recorders[name] = recorder

    def __contains__(self, name: str) -> bool:
        return name in self.recorders

    def __getitem__(self, name: str):
        return self.recorders[name]

    @property
    def sources(self):
        return [r.source for r in self.recorders.values()]

    def sources_of(self, names):
        """Sources of the named recorders."""
        return [r.source for n, r in self.recorders.items() if n in names]

    @contextmanager
    def resume(self):
        """Record during the ``with`` body without clearing what was
        recorded before."""
        for r in self.recorders.values():
            r.recording = True
        try:
            yield self
        finally:
            for r in self.recorders.values():
                r.recording = False

    @contextmanager
    def record(self):
        """Record (fresh) during the ``with`` body."""
        for r in self.recorders.values():
            r.reset()
        with self.resume():
            yield self
