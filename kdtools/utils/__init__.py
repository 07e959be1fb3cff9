from .checkpoint import (load_checkpoint_file, patch_mmengine,
                         trust_checkpoint, trust_checkpoints)
from .config import load_config, resolve_scopes
from .errors import (CheckpointError, ConfigError, DatasetError,
                     EnvironmentMismatchError, KDToolsError, RegistryError,
                     UnsafeCheckpointError)
from .setup_env import register_all_modules

__all__ = [
    'load_checkpoint_file', 'patch_mmengine', 'trust_checkpoint',
    'trust_checkpoints', 'load_config', 'resolve_scopes', 'CheckpointError',
    'ConfigError', 'DatasetError', 'EnvironmentMismatchError', 'KDToolsError',
    'RegistryError', 'UnsafeCheckpointError', 'register_all_modules'
]
