"""Errors kdtools raises on bad input.

Each carries a one-line message that names what the user wrote (a path, a
config key, a module name) and what was expected. The tools print the message
alone (no traceback) and exit with status 2, before any training starts.
"""


class KDToolsError(Exception):
    """Base class of the errors that the tools report in one line."""


class EnvironmentMismatchError(KDToolsError, ImportError):
    """The installed MMLab stack is not the one kdtools needs."""


class ConfigError(KDToolsError, ValueError):
    """A config names something that does not exist or does not fit."""


class RegistryError(ConfigError, KeyError):
    """A config names a type no registry in reach has (or several have)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ''


class DatasetError(KDToolsError, ValueError):
    """A dataset folder or annotation file is missing or malformed."""


class CheckpointError(KDToolsError, RuntimeError):
    """A checkpoint is missing, does not match its model, or is unsafe."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint holds pickled objects outside the allow-list."""
