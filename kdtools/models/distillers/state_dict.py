"""Checkpoints and the module tree: where the teachers live and what a
Distiller's state dict holds.

Teachers are kept out of the module tree, and so out of the state dict and
the checkpoints, unless ``teacher_in_checkpoint=True``; hidden or not they
follow the Distiller's device and dtype and stay in eval mode. Saved keys
never carry a DDP ``.module.`` level, and a plain student checkpoint loads
into the distiller's student.
"""
from typing import Dict

from mmengine.logging import print_log
from torch import nn


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a (separate) DDP wrapper."""
    return module.module if hasattr(module, 'module') and isinstance(
        module, nn.parallel.DistributedDataParallel) else module


class TeacherStateMixin:
    """The teachers' place in the module tree and the state-dict hooks of
    a Distiller (an ``nn.Module`` with a ``student``): state that belongs to
    the Distiller itself, hence a mixin."""

    def _hold_teachers(self, teachers: Dict[str, nn.Module],
                       in_checkpoint: bool) -> None:
        """Keep the built teachers: as the ``teachers`` submodule (saved)
        or hidden from the module tree (not saved)."""
        self.teacher_in_checkpoint = in_checkpoint
        if in_checkpoint:
            self.teachers = nn.ModuleDict(teachers)
        else:
            object.__setattr__(self, '_hidden_teachers', teachers)

    @property
    def teacher_models(self) -> Dict[str, nn.Module]:
        if self.teacher_in_checkpoint:
            return dict(self.teachers.items())
        return self._hidden_teachers

    def train(self, mode: bool = True):
        super().train(mode)
        for model in self.teacher_models.values():
            model.eval()
        return self

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        if not self.teacher_in_checkpoint:
            for model in self._hidden_teachers.values():
                model._apply(fn, *args, **kwargs)
        return self

    def _set_device(self, device) -> None:
        """``to``/``cuda``/``cpu`` also tell the hidden teachers' data
        preprocessors where their inputs go."""
        super()._set_device(device)
        if not self.teacher_in_checkpoint:
            for model in self._hidden_teachers.values():
                if hasattr(model, '_set_device'):
                    model._set_device(device)

    def _register_checkpoint_hooks(self) -> None:
        self._register_load_state_dict_pre_hook(self._accept_plain_student)
        self._register_state_dict_hook(self._strip_ddp_wrappers)

    def _strip_ddp_wrappers(self, module, state_dict, prefix, *args):
        """Checkpoints name ``student.*``, never ``student.module.*``, also
        when the children are DDP-wrapped one by one
        (``MMSeparateDistributedDataParallel``)."""
        for name, child in self._modules.items():
            if unwrap(child) is child:
                continue
            old, new = f'{prefix}{name}.module.', f'{prefix}{name}.'
            for key in [k for k in state_dict if k.startswith(old)]:
                state_dict[new + key[len(old):]] = state_dict.pop(key)
        return state_dict

    def _accept_plain_student(self, state_dict, prefix, *args) -> None:
        """``load_from`` a plain student checkpoint: prefix its keys with
        ``student.`` (reported), so it initialises the distiller's
        student."""
        own = [k for k in state_dict if k.startswith(prefix)]
        if any(k[len(prefix):].startswith('student.') for k in own):
            return
        student_keys = set(unwrap(self.student).state_dict())
        plain = [k for k in own if k[len(prefix):] in student_keys]
        if not plain:
            return
        for k in plain:
            state_dict[f'{prefix}student.{k[len(prefix):]}'] = \
                state_dict.pop(k)
        print_log(
            f'kdtools: the checkpoint is a plain student checkpoint; '
            f'{len(plain)} of the student\'s {len(student_keys)} tensors '
            'loaded as "student.*" (adapters keep their initialisation)',
            logger='current')
