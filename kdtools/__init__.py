"""kdtools: knowledge distillation for dense prediction on MMEngine."""
import os

from .version import __version__

if os.environ.get('KDTOOLS_SKIP_VERSION_CHECK', '0') != '1':
    from .utils.version_check import check_versions
    check_versions()

from .utils.checkpoint import patch_mmengine  # noqa: E402
from .utils.config_text import cache_pretty_text  # noqa: E402

patch_mmengine()
cache_pretty_text()

__all__ = ['__version__']
