"""Student export: a distiller checkpoint -> a plain student checkpoint and
config for stock MMLab code."""
import copy
import os
import os.path as osp
import time
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.registry import MODELS

from kdtools.utils.checkpoint import load_checkpoint_file
from kdtools.utils.config import load_config
from kdtools.utils.errors import CheckpointError, ConfigError
from .teacher import _plain_state_dict, model_cfg_from


def _inference_types(cfg):
    """Replace kdtools training-only modules by the stock module they
    export as (their ``export_type``, e.g. ``DeiTDistillClsHead`` ->
    ``mmpretrain.DeiTClsHead``: same parameters), so the exported config
    builds without kdtools."""
    if isinstance(cfg, dict):
        out = {k: _inference_types(v) for k, v in cfg.items()}
        name = out.get('type')
        if isinstance(name, str):
            scope, _, short = name.rpartition('.')
            scope = scope or out.get('_scope_', '')
            cls = MODELS.get(f'kdtools.{short}') if scope in ('', 'kdtools') \
                else None
            if cls is not None and getattr(cls, 'export_type', None):
                new_scope, _, new_name = cls.export_type.rpartition('.')
                out['_scope_'], out['type'] = new_scope, new_name
        return out
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_inference_types(v) for v in cfg)
    return cfg


def student_config(config) -> Config:
    """The distillation config with ``model`` replaced by its student (the
    user's own config again) and the distillation hooks removed."""
    cfg = load_config(config)
    model = cfg.model
    if model.get('type', '').split('.')[-1] != 'Distiller':
        raise ConfigError(f'{config!r}: model.type is {model.get("type")!r}, '
                          'not a kdtools Distiller')
    student = model.student
    if 'config' in student and 'type' not in student:
        student = model_cfg_from(student.config, 'model.student')
    plain = copy.deepcopy(cfg._cfg_dict.to_dict())
    plain['model'] = _inference_types(copy.deepcopy(dict(student)))
    plain['custom_hooks'] = [
        h for h in plain.get('custom_hooks', [])
        if h.get('type', '').split('.')[-1] != 'TeacherEvalHook']
    for key in ('teacher_config', 'teacher_ckpt', 'trusted_checkpoints'):
        plain.pop(key, None)
    return Config(plain)


def export_student(config, checkpoint: str, out: str,
                   trusted: Optional[bool] = None) -> str:
    """Write ``out`` (plain student checkpoint) and ``out``'s ``.py``
    (student config); check that the plain student loads it strictly.
    Returns the config path."""
    if not osp.isfile(checkpoint):
        raise CheckpointError(f'checkpoint {checkpoint!r} does not exist')
    cfg = student_config(config)
    ckpt = load_checkpoint_file(checkpoint, map_location='cpu',
                                trusted=trusted)
    raw = ckpt.get('state_dict', ckpt)
    if not any(k.startswith(('student.', 'module.student.')) for k in raw):
        raise CheckpointError(
            f'{checkpoint!r} holds no "student.*" weights: it is not a '
            'kdtools distiller checkpoint')
    state = _plain_state_dict(ckpt)
    student = MODELS.build(cfg.model)
    try:
        student.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(
            f'the student in {checkpoint!r} does not match the student of '
            f'{config!r}: {str(e).splitlines()[0]}') from None
    meta = dict(ckpt.get('meta', {}))
    meta = {k: v for k, v in meta.items()
            if k in ('dataset_meta', 'epoch', 'iter', 'seed',
                     'mmengine_version', 'experiment_name')}
    meta['kdtools'] = dict(exported_from=osp.abspath(checkpoint),
                           distill_config=getattr(config, 'filename', None) or str(config),
                           time=time.strftime('%Y-%m-%d %H:%M:%S'))
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    torch.save(dict(state_dict=student.state_dict(), meta=meta), out)
    cfg_path = osp.splitext(out)[0] + '.py'
    cfg.dump(cfg_path)
    return cfg_path
