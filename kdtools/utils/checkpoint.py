"""Safe checkpoint I/O for mmengine 0.10.7 on current torch.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch 2.6
that means ``weights_only=True`` and mmengine's own checkpoints (numpy scalars
in ``meta``, ``HistoryBuffer`` in the message hub, ``ConfigDict``) fail to
load. kdtools keeps ``weights_only=True`` and allow-lists exactly the types
that MMLab checkpoints hold (:data:`MMLAB_SAFE_GLOBALS`). A file that pickles
anything else is refused with :class:`UnsafeCheckpointError`, before a byte
of it runs, unless the user trusted that file explicitly
(``--trust-checkpoint PATH`` on the tools, ``trusted_checkpoints=[PATH]`` in a
config, or :func:`trust_checkpoint`).

:func:`patch_mmengine` installs the loader as mmengine's local-file scheme, so
``load_from``, ``resume``, ``init_cfg=dict(type='Pretrained')`` and
``mmengine.runner.load_checkpoint`` all use it, and makes mmengine's local
writes atomic (temporary file, fsync, rename), so a run killed during a save
never leaves a truncated checkpoint behind.
"""
import logging
import os
import os.path as osp
import pickle
import re
import shlex
import tempfile
import warnings
from collections import OrderedDict, defaultdict
from typing import Iterable, List, Optional, Set, Union

import numpy as np
import torch

from .errors import CheckpointError, UnsafeCheckpointError

_TRUSTED: Set[str] = set()


def _numpy_globals() -> list:
    """numpy types that appear when meta/message hub hold numpy values."""
    core = getattr(np, '_core', None) or np.core
    items = [core.multiarray.scalar, core.multiarray._reconstruct,
             np.ndarray, np.dtype]
    # numpy >= 1.25 pickles dtypes as instances of numpy.dtypes.*DType
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        items += [getattr(dtypes, n) for n in dir(dtypes)
                  if n.endswith('DType') and isinstance(getattr(dtypes, n), type)]
    return items


def _history_buffer_getattr(obj, name: str):
    """Stands in for ``builtins.getattr`` while unpickling: mmengine's
    ``HistoryBuffer`` pickles its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``. Only that is allowed; any other use
    of getattr in a checkpoint is refused."""
    from mmengine.logging import HistoryBuffer
    # the built-in statistics are registered lazily (first instance)
    allowed = {'min', 'max', 'current', 'mean'} | set(
        HistoryBuffer._statistics_methods)
    if (obj is HistoryBuffer or isinstance(obj, HistoryBuffer)) and \
            name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'getattr({type(obj).__name__}, {name!r}) is not allowed in a '
        'checkpoint (only HistoryBuffer statistics methods are)')


def _mmengine_globals() -> list:
    from mmengine.config import ConfigDict
    from mmengine.logging import HistoryBuffer
    return [ConfigDict, HistoryBuffer,
            (_history_buffer_getattr, 'builtins.getattr')]


def mmlab_safe_globals() -> list:
    """The allow-list: what mmengine/mmdet/mmseg/mmpretrain checkpoints hold
    besides tensors and builtin containers (``builtins.getattr`` only in
    the restricted form of :func:`_history_buffer_getattr`)."""
    return (_numpy_globals() + _mmengine_globals() +
            [OrderedDict, defaultdict, set, frozenset, slice, range, complex])


def trust_checkpoint(path: Union[str, os.PathLike]) -> None:
    """Opt in to full unpickling of ``path`` (only for files you trust)."""
    _TRUSTED.add(osp.realpath(osp.expanduser(str(path))))


def trust_checkpoints(paths: Optional[Iterable]) -> None:
    for p in paths or ():
        trust_checkpoint(p)


def is_trusted(path: Union[str, os.PathLike]) -> bool:
    return osp.realpath(osp.expanduser(str(path))) in _TRUSTED


def _unsafe_globals(filename: str) -> List[str]:
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # not a zip checkpoint: report what torch said
        return []
    allowed = {g[1] if isinstance(g, tuple) else
               f'{g.__module__}.{g.__qualname__}'
               for g in mmlab_safe_globals()}
    return [g for g in found if g not in allowed]


def _unpickler_reason(error: Exception) -> str:
    """What torch's weights-only error says the file pickles, worded to
    follow "it pickles": the refused global's name, or that the file is a
    raw pickle stream rather than a ``torch.save`` file."""
    text = str(error)
    m = re.search(r'GLOBAL (\S+) was not an allowed global', text)
    if m:
        return m.group(1)
    if 'Unsupported operand' in text:
        return ('a raw pickle stream (not a torch.save file: pickle.dump or '
                'an old custom format)')
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if 'WeightsUnpickler error' in line:
            rest = line.split('WeightsUnpickler error:', 1)[1].strip()
            return (rest or (lines[i + 1] if i + 1 < len(lines) else ''))[:200]
    return lines[0][:200] if lines else type(error).__name__


def load_checkpoint_file(filename: Union[str, os.PathLike],
                         map_location=None,
                         trusted: Optional[bool] = None):
    """Load a local checkpoint with ``weights_only=True`` and the MMLab
    allow-list; full unpickling only if the file was trusted explicitly."""
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise CheckpointError(
            f'checkpoint {filename!r} does not exist (expected a .pth file '
            'written by torch.save / mmengine)')
    if osp.getsize(filename) == 0:
        raise CheckpointError(
            f'checkpoint {filename!r} is empty (0 bytes: a save that never '
            'completed?); expected a .pth file written by torch.save / '
            'mmengine')
    if trusted is None:
        trusted = is_trusted(filename)
    if trusted:
        from mmengine.logging import print_log
        print_log(f'kdtools: loading {filename!r} with full unpickling (it '
                  'was trusted: --trust-checkpoint / trusted_checkpoints); '
                  'code pickled in it runs', logger='current',
                  level=logging.WARNING)
        return torch.load(filename, map_location=map_location,
                          weights_only=False)
    try:
        with torch.serialization.safe_globals(mmlab_safe_globals()), \
                warnings.catch_warnings():
            # raw pickles: "Detected pickle protocol 4 ..."; refused below
            warnings.filterwarnings('ignore', 'Detected pickle protocol')
            return torch.load(filename, map_location=map_location,
                              weights_only=True)
    except pickle.UnpicklingError as e:
        names = _unsafe_globals(filename) or [_unpickler_reason(e)]
        raise UnsafeCheckpointError(
            f'refused to load {filename!r}: it pickles '
            f'{", ".join(names[:5])}, which MMLab checkpoints do not hold, and '
            'unpickling could run code. If you trust this file, opt in with '
            f'--trust-checkpoint {shlex.quote(filename)} (tools/train.py, '
            'tools/test.py, tools/model_converters/export_student.py) or '
            f'trusted_checkpoints=[{filename!r}] in the config') from None
    except (RuntimeError, EOFError) as e:
        raise CheckpointError(
            f'checkpoint {filename!r} is not a readable torch checkpoint '
            f'({str(e).splitlines()[0][:200]})') from None


def state_dict_mismatch(own: dict, saved: dict):
    """How ``saved`` (a checkpoint's state dict) differs from ``own`` (a
    model's): the keys ``own`` has and ``saved`` lacks, the keys ``saved``
    has and ``own`` lacks, and the common keys whose shapes differ (each in
    its dict's order)."""
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    shapes = [k for k in own if k in saved and hasattr(saved[k], 'shape')
              and tuple(saved[k].shape) != tuple(own[k].shape)]
    return missing, unexpected, shapes


def _load_from_local(filename, map_location):
    return load_checkpoint_file(filename, map_location)


def _atomic_put(self, obj: bytes, filepath) -> None:
    """``LocalBackend.put`` that never leaves a partial file at
    ``filepath``: write a sibling temporary file, fsync, then rename."""
    filepath = str(filepath)
    dirname = osp.dirname(osp.abspath(filepath))
    os.makedirs(dirname, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(filepath)}.',
                               suffix='.tmp', dir=dirname)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(obj)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; a checkpoint gets what open() would give it
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def _umask() -> int:
    """The process umask (read without changing it for good)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_PATCHED = False


def patch_mmengine() -> None:
    """Route mmengine's local checkpoint loading through the safe loader and
    make its local file writes atomic; URLs go through the hub cache and
    the same loader (:mod:`kdtools.utils.url_checkpoint`). Idempotent."""
    global _PATCHED
    if _PATCHED:
        return
    from mmengine.fileio.backends import LocalBackend
    from mmengine.hooks import CheckpointHook
    from mmengine.runner.checkpoint import CheckpointLoader

    from .checkpoint_order import save_checkpoint_with_step
    _load_from_local.__name__ = 'load_from_local'
    CheckpointLoader.register_scheme(prefixes='', loader=_load_from_local,
                                     force=True)
    # URLs: the hub cache, then the safe loader; one line when offline
    from mmengine.runner import checkpoint as mm_checkpoint

    from .url_checkpoint import load_from_http
    CheckpointLoader.register_scheme(prefixes=('http://', 'https://'),
                                     loader=load_from_http, force=True)
    mm_checkpoint.load_from_http = load_from_http  # torchvision://, ...
    LocalBackend.put = _atomic_put
    CheckpointHook._save_checkpoint_with_step = save_checkpoint_with_step
    _PATCHED = True
