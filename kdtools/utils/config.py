"""Config loading: one-line errors for bad paths, and scoped types that build
their sub-modules in their own scope."""
import os.path as osp
from typing import Any, Optional, Union

from mmengine.config import Config, ConfigDict

from .errors import ConfigError

#: scopes a ``type='<scope>.<Name>'`` may name
KNOWN_SCOPES = ('mmdet', 'mmseg', 'mmpretrain', 'mmengine', 'mmcv', 'kdtools')


def resolve_scopes(cfg: Any) -> Any:
    """Turn every ``type='<scope>.<Name>'`` into ``_scope_='<scope>',
    type='<Name>'`` (unless the dict has a ``_scope_``), in place,
    recursively.

    mmengine builds a scoped type from the default scope's registry but then
    builds its children (a detector's backbone, a dataset's pipeline) in the
    *default* scope again, where bare names like ``ResNet`` or
    ``LoadAnnotations`` resolve to the wrong class or to none. With
    ``_scope_`` set, the whole subtree builds in ``<scope>``, exactly as
    mmengine does for dicts inherited from ``mmdet::`` configs.

    Plain mmengine (``Config.fromfile`` without this) builds the same
    models: kdtools' registries resolve a bare name that mmdet's code asks
    for in mmdet (:mod:`kdtools.registry`). Setting ``_scope_`` here keeps
    the whole subtree in its library even where other code (a user's own
    module) asks.
    """
    if isinstance(cfg, dict):
        t = cfg.get('type')
        if isinstance(t, str) and '.' in t and '_scope_' not in cfg:
            scope, name = t.split('.', 1)
            if scope in KNOWN_SCOPES:
                # ``X`` as ``scope`` resolves it: its own registry first, then
                # the root (where mmcv's LoadImageFromFile lives)
                cfg['_scope_'] = scope
                cfg['type'] = name
        for v in cfg.values():
            resolve_scopes(v)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            resolve_scopes(v)
    return cfg


def load_config(config: Union[str, dict, Config],
                cfg_options: Optional[dict] = None) -> Config:
    """Load a config from a path, a dict or a Config, apply
    ``--cfg-options`` and :func:`resolve_scopes`.

    Accepted paths: local files and package configs (``mmdet::gfl/...``).
    """
    if isinstance(config, Config):
        cfg = config
    elif isinstance(config, dict):
        cfg = Config(dict(config))
    elif isinstance(config, str):
        if '::' not in config and not osp.isfile(config):
            raise ConfigError(
                f'config file {config!r} does not exist (expected a path to a '
                '.py config, or a package config like "mmdet::gfl/'
                'gfl_r50_fpn_1x_coco.py")')
        try:
            if '::' in config:
                from mmengine.hub import get_config
                cfg = get_config(config)
            else:
                cfg = Config.fromfile(config)
        except (FileNotFoundError, ModuleNotFoundError) as e:
            raise ConfigError(f'config {config!r} could not be read: {e}') \
                from None
    else:
        raise ConfigError(f'config must be a path, dict or Config, got '
                          f'{type(config).__name__}')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    resolve_scopes(cfg._cfg_dict if hasattr(cfg, '_cfg_dict') else cfg)
    return cfg


__all__ = ['resolve_scopes', 'load_config', 'KNOWN_SCOPES', 'ConfigDict']
