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

from kdtools.registry import MODELS as KDTOOLS_MODELS
from kdtools.utils.checkpoint import load_checkpoint_file, trust_checkpoints
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
            # kdtools' own classes only (the registry's fallbacks to other
            # libraries are not asked)
            cls = KDTOOLS_MODELS.module_dict.get(short) \
                if scope in ('', 'kdtools') else None
            if cls is not None and getattr(cls, 'export_type', None):
                new_scope, _, new_name = cls.export_type.rpartition('.')
                out['_scope_'], out['type'] = new_scope, new_name
        return out
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_inference_types(v) for v in cfg)
    return cfg


#: the models whose student export writes
DISTILLER_TYPES = ('Distiller', 'DataFreeDistiller')
#: training-only hooks of data-free runs, not in an exported config
DATAFREE_HOOKS = ('DataFreeVisualizationHook', )


def student_config(config) -> Config:
    """The distillation config with ``model`` replaced by its student (the
    user's own config again) and the distillation hooks removed."""
    cfg = load_config(config)
    model = cfg.model
    kind = model.get('type', '').split('.')[-1]
    if kind not in DISTILLER_TYPES:
        raise ConfigError(f'{config!r}: model.type is {model.get("type")!r}, '
                          f'not one of kdtools\' {list(DISTILLER_TYPES)}')
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
    if kind == 'DataFreeDistiller':
        # trained on synthetic images: there is no student training set to
        # hand on (the loader is kdtools' SyntheticDataset), nor the
        # generator's optimizers and schedules
        for key in ('train_dataloader', 'train_cfg', 'optim_wrapper',
                    'param_scheduler'):
            plain.pop(key, None)
        plain['custom_hooks'] = [
            h for h in plain['custom_hooks']
            if h.get('type', '').split('.')[-1] not in DATAFREE_HOOKS]
    return Config(plain)


#: what an exported checkpoint's name may end with (its config is written
#: beside it with the same stem and ``.py``, so the two never coincide)
CHECKPOINT_EXTS = ('.pth', '.pt')


def _same_file(a: str, b: str) -> bool:
    return osp.realpath(a) == osp.realpath(b)


def export_paths(out: str, inputs=(), force: bool = False):
    """``(checkpoint, config)`` paths :func:`export_student` writes for
    ``out``, after checking that writing them destroys nothing: ``out`` ends
    in ``.pth`` (the config goes beside it as ``.py``), neither path is one
    of ``inputs`` (the distiller checkpoint and config: never overwritten,
    even with ``force``), and neither exists unless ``force``."""
    out = str(out)
    if not out.endswith(CHECKPOINT_EXTS):
        hint = (f' (the config is written beside it: pass '
                f'{osp.splitext(out)[0]}.pth to get both)'
                if out.endswith('.py') else '')
        raise ConfigError(
            f'export: output {out!r} must be the student checkpoint\'s path, '
            f'ending in .pth{hint}')
    cfg_path = osp.splitext(out)[0] + '.py'
    for path in (out, cfg_path):
        for given in inputs:
            if given and osp.exists(path) and _same_file(path, str(given)):
                raise ConfigError(
                    f'export: writing {path!r} would overwrite the input '
                    f'{str(given)!r}; expected another output path')
    existing = [p for p in (out, cfg_path) if osp.lexists(p)]
    if existing and not force:
        raise ConfigError(
            f'export: {" and ".join(repr(p) for p in existing)} already '
            f'exist{"s" if len(existing) == 1 else ""}; refusing to '
            'overwrite: pass --force (force=True) to replace, or choose '
            'another output path')
    return out, cfg_path


def _write_atomic(path: str, write) -> None:
    """``write(tmp)`` then rename to ``path``: a failed write leaves the
    old file (or none), never a partial one."""
    tmp = f'{path}.{os.getpid()}.tmp'
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def export_student(config, checkpoint: str, out: str,
                   trusted: Optional[bool] = None,
                   force: bool = False) -> str:
    """Write ``out`` (plain student checkpoint, ending in ``.pth``) and
    ``out``'s ``.py`` (student config); check that the plain student loads
    it strictly. Existing files are replaced only with ``force``; the input
    checkpoint and config never are. Returns the config path."""
    if not osp.isfile(checkpoint):
        raise CheckpointError(f'checkpoint {checkpoint!r} does not exist')
    config_file = config if isinstance(config, str) else getattr(
        config, 'filename', None)
    out, cfg_path = export_paths(
        out, [checkpoint] + ([config_file] if config_file and
                             osp.isfile(config_file) else []), force)
    distill_cfg = load_config(config)
    # the distillation config may trust its own checkpoints
    trust_checkpoints(distill_cfg.get('trusted_checkpoints', None))
    cfg = student_config(distill_cfg)
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
                           distill_config=config_file or str(config),
                           time=time.strftime('%Y-%m-%d %H:%M:%S'))
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    _write_atomic(out, lambda tmp: torch.save(
        dict(state_dict=student.state_dict(), meta=meta), tmp))
    text = cfg.pretty_text  # what Config.dump writes for a .py file

    def write_config(tmp):
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
    _write_atomic(cfg_path, write_config)
    return cfg_path
