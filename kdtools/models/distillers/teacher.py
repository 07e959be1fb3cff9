"""Building and loading frozen teachers (and students given by config), and
how several teachers are weighted."""
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from torch import nn

from kdtools.registry import MODELS, explain_registry_error
from kdtools.utils.checkpoint import (load_checkpoint_file,
                                      state_dict_mismatch)
from kdtools.utils.config import load_config, resolve_scopes
from kdtools.utils.errors import CheckpointError, ConfigError, RegistryError
from kdtools.utils.url_checkpoint import fetch, is_url


def model_cfg_from(config: Union[str, dict, Config], owner: str) -> dict:
    """The model dict of ``config``: a config path (local or
    ``mmdet::...``), a Config, a full config dict (with ``model``) or a model
    dict (with ``type``). The config's ``default_scope`` becomes the model's
    ``_scope_`` so that it builds in its own library from any scope
    (:func:`library_scope` where the config names none), and its top-level
    ``data_preprocessor`` is the model's where the model has none (as
    mmengine's Runner does when that config trains)."""
    if isinstance(config, (dict, ConfigDict)) and 'type' in config:
        model = dict(config)
        default_scope = None
    else:
        try:
            cfg = load_config(config)
        except ConfigError as e:
            raise ConfigError(f'{owner}: {e}') from None
        if 'model' not in cfg:
            raise ConfigError(f'{owner}: config {config!r} has no "model"')
        model = cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') \
            else dict(cfg.model)
        default_scope = cfg.get('default_scope')
        if cfg.get('data_preprocessor') is not None:
            model.setdefault('data_preprocessor', _plain(
                cfg.data_preprocessor))
    model = resolve_scopes(model)
    if '_scope_' not in model and default_scope not in (None, 'kdtools'):
        model['_scope_'] = default_scope
    # MMLab heads read their train_cfg/test_cfg by attribute
    return ConfigDict(library_scope(model))


def _plain(cfg) -> dict:
    return cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg)


def library_scope(model: dict) -> dict:
    """``model`` with ``_scope_`` set to the library that registers its bare
    ``type`` when it is built in kdtools' scope (a user's config inherited
    by, or named in, a kdtools config): the whole model then builds in that
    library's scope, as it does in its own config. Unchanged when it has a
    ``_scope_``, a prefixed or kdtools type, when the default scope is a
    library's (the model builds there), or when several libraries have
    the name (:class:`~kdtools.registry.KDToolsRegistry` then refuses it,
    naming the prefixes)."""
    from mmengine.registry import DefaultScope
    current = DefaultScope.get_current_instance()
    name = model.get('type')
    if '_scope_' in model or not isinstance(name, str) or '.' in name or (
            current is not None and current.scope_name != MODELS.scope):
        return model
    owners = [s for s in MODELS.owners(name) if s != 'mmengine']
    if len(owners) == 1 and owners[0] != MODELS.scope:
        model['_scope_'] = owners[0]
    return model


def build_model(cfg: dict, owner: str) -> nn.Module:
    """``MODELS.build(cfg)``; a type no registry in reach has is a
    one-line ConfigError naming ``owner`` and the prefix that fixes it."""
    try:
        return MODELS.build(cfg)
    except RegistryError as e:
        raise RegistryError(f'{owner}: {e}') from None
    except KeyError as e:
        why = explain_registry_error(e)
        if why is None:
            raise
        raise RegistryError(f'{owner}: {why}') from None


def _plain_state_dict(checkpoint: dict) -> dict:
    state = checkpoint.get('state_dict', checkpoint)
    state = {k[len('module.'):] if k.startswith('module.') else k: v
             for k, v in state.items()}
    # a distiller checkpoint: its student is the model
    if any(k.startswith('student.') for k in state):
        state = {k[len('student.'):]: v for k, v in state.items()
                 if k.startswith('student.')}
    return state


def local_checkpoint(checkpoint: Optional[str], owner: str,
                     config=None) -> str:
    """The local file of ``checkpoint``: a path, or a URL fetched once into
    the torch hub cache (:mod:`kdtools.utils.url_checkpoint`). A path that
    does not exist is refused naming the command that makes it (``config``:
    the model's config, for that command)."""
    if not checkpoint:
        raise CheckpointError(f'{owner}: no checkpoint given (a teacher must '
                              'be trained; set checkpoint=PATH or URL)')
    if is_url(checkpoint):
        try:
            return fetch(checkpoint)
        except CheckpointError as e:
            raise CheckpointError(f'{owner}: {e}') from None
    if not osp.isfile(osp.expanduser(checkpoint)):
        cfg = config if isinstance(config, str) else 'its config'
        raise CheckpointError(
            f'{owner}: checkpoint {checkpoint!r} does not exist; expected the '
            'trained teacher: `make teachers` trains the embedded-data '
            'teachers to the paths the shipped configs name (`python '
            'tools/misc/make_teachers.py --list` shows them); any other: '
            f'`python tools/train.py {cfg}`, then set {owner}.checkpoint')
    return checkpoint


def non_finite(state: dict) -> list:
    """The names of the floating-point tensors holding nan or inf."""
    return [k for k, v in state.items()
            if torch.is_tensor(v) and v.is_floating_point() and
            not bool(torch.isfinite(v).all())]


def load_strict(model: nn.Module, checkpoint: Optional[str], owner: str,
                trusted: Optional[bool] = None) -> Tuple[int, int]:
    """Load ``checkpoint`` (a path or URL) into ``model``, refusing any
    mismatch and any non-finite value.

    Missing keys, unexpected keys and shape mismatches are all errors that
    list the first offenders: a teacher that does not match its checkpoint
    must not train a student silently; nor one whose weights hold nan/inf.
    Returns ``(number of tensors loaded, number of parameters)``.
    """
    checkpoint = local_checkpoint(checkpoint, owner)
    state = _plain_state_dict(
        load_checkpoint_file(checkpoint, map_location='cpu', trusted=trusted))
    own = model.state_dict()
    missing, unexpected, shapes = state_dict_mismatch(own, state)
    shapes = [f'{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}'
              for k in shapes]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f'missing {len(missing)} keys: '
                         f'{", ".join(missing[:5])}')
        if unexpected:
            parts.append(f'unexpected {len(unexpected)} keys: '
                         f'{", ".join(unexpected[:5])}')
        if shapes:
            parts.append(f'{len(shapes)} shape mismatches: '
                         f'{"; ".join(shapes[:3])}')
        raise CheckpointError(
            f'{owner}: checkpoint {checkpoint!r} does not match its model '
            f'({type(model).__name__}): {" | ".join(parts)}')
    bad = non_finite(state)
    if bad:
        raise CheckpointError(
            f'{owner}: checkpoint {checkpoint!r} holds non-finite values '
            f'(nan/inf) in {len(bad)} tensors: {", ".join(bad[:5])}; it '
            'would give nan distillation losses: use a checkpoint from '
            'before the run diverged')
    model.load_state_dict(state, strict=True)
    print_log(f'{owner}: loaded {len(state)} tensors from {checkpoint} '
              '(strict: no missing, unexpected or mismatched keys)',
              logger='current')
    return len(state), sum(p.numel() for p in model.parameters())


def freeze(model: nn.Module) -> nn.Module:
    """No gradients, eval mode (BN statistics never move)."""
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()
    return model


def disable_inplace(model: nn.Module) -> int:
    """Switch off in-place activations so recorded tensors stay intact.
    Returns how many modules were changed."""
    changed = 0
    for m in model.modules():
        if getattr(m, 'inplace', False) is True and isinstance(
                m, (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.Hardswish,
                    nn.Hardsigmoid, nn.SiLU, nn.Dropout, nn.Dropout2d,
                    nn.Hardtanh, nn.Threshold, nn.CELU, nn.SELU, nn.Mish)):
            m.inplace = False
            changed += 1
    return changed


def named_teachers(teachers: Optional[Dict[str, dict]],
                   teacher: Optional[dict]) -> Dict[str, dict]:
    """``teachers``, or ``dict(teacher=teacher)`` for the shorthand."""
    if teacher is not None:
        if teachers:
            raise ConfigError('give either teacher=... or teachers=...')
        teachers = dict(teacher=teacher)
    if not teachers:
        raise ConfigError('Distiller: no teacher given (teacher=dict('
                          'config=..., checkpoint=...))')
    return teachers


def student_cfg_from(student: dict,
                     data_preprocessor: Optional[dict] = None) -> ConfigDict:
    """The student's model dict: a model dict, or ``dict(config=...)``;
    ``data_preprocessor`` (the Distiller's, which mmengine's Runner fills
    from the config's top level) only where the student has none."""
    if 'config' in student and 'type' not in student:
        return model_cfg_from(student['config'], 'student')
    model = resolve_scopes(dict(student))
    if data_preprocessor is not None and \
            model.get('data_preprocessor') is None:
        model['data_preprocessor'] = data_preprocessor
    return ConfigDict(library_scope(model))


def build_teacher(owner: str, cfg: dict, default_recorders: Optional[dict]
                  ) -> Tuple[nn.Module, dict, str]:
    """The teacher ``owner`` (``teachers.<name>``) from its entry
    ``dict(config=..., checkpoint=..., recorders=None,
    trust_checkpoint=False, channels_last=..., fuse_conv_bn=...)``: built,
    loaded
    strictly, frozen (in-place activations and layout are set after the
    build-time forward: :mod:`.teacher_inference`). Returns the model, its
    recorder configs (its own ``recorders`` or ``default_recorders``) and
    the name errors give them."""
    tcfg = dict(cfg)
    unknown = set(tcfg) - {'config', 'checkpoint', 'recorders',
                           'trust_checkpoint', 'channels_last',
                           'fuse_conv_bn'}
    if unknown or 'config' not in tcfg:
        raise ConfigError(
            f'{owner}: expected keys config, checkpoint (recorders, '
            f'trust_checkpoint, channels_last, fuse_conv_bn optional); got '
            f'{sorted(tcfg)}')
    model_cfg = model_cfg_from(tcfg['config'], owner)
    model = build_model(model_cfg, owner)
    checkpoint = local_checkpoint(tcfg.get('checkpoint'), owner,
                                  tcfg['config'])
    load_strict(model, checkpoint, owner,
                trusted=tcfg.get('trust_checkpoint') or None)
    # what its evaluation is keyed by (TeacherEvalHook)
    model.kdtools_checkpoint = checkpoint
    model.kdtools_config = model_cfg.to_dict()
    freeze(model)
    recs = dict(tcfg.get('recorders', default_recorders) or {})
    rec_owner = f'{owner}.recorders' if 'recorders' in tcfg \
        else 'teacher_recorders'
    return model, recs, rec_owner


def normalised_weights(weights: Optional[Dict[str, float]],
                       names: Sequence[str]) -> Dict[str, float]:
    """``teacher_weights`` (default: equal) scaled to sum to 1."""
    weights = weights or {n: 1.0 for n in names}
    unknown = set(weights) - set(names)
    if unknown:
        raise ConfigError(f'teacher_weights names {sorted(unknown)}; the '
                          f'teachers are {sorted(names)}')
    total = sum(weights.get(n, 0.0) for n in names)
    return {n: weights.get(n, 0.0) / total for n in names}
