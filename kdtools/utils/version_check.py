"""Check, at ``import kdtools``, that the MMLab stack is the one kdtools is
built and tested against, and say in one line what is wrong and how to fix
it.

Versions are read from the installed distributions' metadata (fast: nothing
heavy is imported), except mmcv's compiled ops, which are checked by loading
``mmcv._ext``: a CPU-only ``mmcv-lite`` or an mmcv built against another torch
fails there, not at the first ``nms`` call deep inside a detector.
"""
from importlib import metadata
from typing import Callable, List, Optional, Tuple

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from .errors import EnvironmentMismatchError

FIX = 'make install'

# (distribution, import name, specifier, pinned release to install)
REQUIREMENTS: List[Tuple[str, str, str, str]] = [
    ('torch', 'torch', '>=2.1', 'torch==2.14.1'),
    # mmpretrain imports torchvision at import time
    ('torchvision', 'torchvision', '>=0.16', 'torchvision==0.29.1'),
    ('mmengine', 'mmengine', '>=0.10.7,<0.11', 'mmengine==0.10.7'),
    ('mmcv', 'mmcv', '>=2.1.0,<2.2.0', 'mmcv==2.1.0'),
    ('mmdet', 'mmdet', '>=3.3.0,<3.4', 'mmdet==3.3.0'),
    ('mmsegmentation', 'mmseg', '>=1.2.2,<1.3', 'mmsegmentation==1.2.2'),
    ('mmpretrain', 'mmpretrain', '>=1.2.0,<1.3', 'mmpretrain==1.2.0'),
]


def _installed_version(dist: str) -> Optional[str]:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _mmcv_ops_error() -> Optional[str]:
    try:
        import mmcv._ext  # noqa: F401
    except Exception as e:  # ImportError, OSError (undefined symbol), ...
        return f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'
    return None


def find_problems(
    version_of: Callable[[str], Optional[str]] = _installed_version,
    mmcv_ops_error: Callable[[], Optional[str]] = _mmcv_ops_error,
) -> List[str]:
    """Return one line per problem found (empty when all is well)."""
    problems = []
    for dist, name, spec, pin in REQUIREMENTS:
        found = version_of(dist)
        if found is None:
            problems.append(f'{name} is not installed (kdtools needs {dist}'
                            f'{spec}); run `{FIX}` or `pip install "{pin}"`')
            continue
        try:
            ok = Version(found.split('+')[0]) in SpecifierSet(spec)
        except InvalidVersion:
            ok = False
        if not ok:
            problems.append(f'{name} {found} is installed but kdtools needs '
                            f'{dist}{spec}; run `{FIX}` or '
                            f'`pip install "{pin}"`')
    if version_of('mmcv') is not None and version_of('mmcv-lite') is None:
        err = mmcv_ops_error()
        if err is not None:
            problems.append(
                'mmcv is installed without working compiled ops (import '
                f'mmcv._ext failed: {err}); rebuild it with `{FIX}` '
                '(MMCV_WITH_OPS=1 pip install --no-build-isolation '
                '--force-reinstall --no-deps mmcv==2.1.0)')
    elif version_of('mmcv-lite') is not None:
        problems.append('mmcv-lite is installed, but detectors need the '
                        'compiled ops of the full mmcv; `pip uninstall '
                        f'mmcv-lite` then run `{FIX}`')
    return problems


def check_versions(**kwargs) -> None:
    """Raise :class:`EnvironmentMismatchError` naming the first problem."""
    problems = find_problems(**kwargs)
    if problems:
        more = f' (and {len(problems) - 1} more)' if len(problems) > 1 else ''
        raise EnvironmentMismatchError(f'kdtools: {problems[0]}{more}')
