"""Checkpoints given as URLs, as MMLab model-zoo configs name them.

A URL is downloaded once, with a progress bar, into torch's hub cache
(``<TORCH_HOME>/hub/checkpoints/<file name>``, ``TORCH_HOME`` defaulting to
``~/.cache/torch``: where ``torch.hub`` and mmengine put the same files, so
a file they downloaded is reused), its sha256 checked against the
``-<hash>.pth`` suffix model-zoo file names carry, and then loaded by the
safe loader (:func:`kdtools.utils.checkpoint.load_checkpoint_file`), never
with full unpickling. Offline, loading fails with one line naming the URL
and the exact path to put the file at.

:func:`load_from_http` replaces mmengine's ``http://`` / ``https://`` scheme
(installed by :func:`kdtools.utils.checkpoint.patch_mmengine`), so
``load_from``, ``init_cfg=dict(type='Pretrained', checkpoint=URL)`` and the
``torchvision://`` / ``open-mmlab://`` names that resolve to URLs behave the
same way.
"""
import os
import os.path as osp
import re
import socket
from typing import Optional
from urllib.parse import urlparse

import torch

from .errors import CheckpointError

# model-zoo names end in the first 8 hex digits of the file's sha256
_HASH = re.compile(r'-([a-f0-9]{8,64})\.pth?$')
# seconds a stalled connection may stay silent before the download fails
TIMEOUT = 60


def is_url(path) -> bool:
    return isinstance(path, str) and path.startswith(('http://', 'https://'))


def cached_path(url: str, model_dir: Optional[str] = None) -> str:
    """Where the checkpoint at ``url`` is kept: the hub cache (or
    ``model_dir``), under the URL's file name."""
    name = osp.basename(urlparse(url).path)
    folder = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    return osp.join(folder, name)


def _download(url: str, dst: str, progress: bool) -> Optional[str]:
    """Download ``url`` to ``dst``; the reason it failed, or None."""
    os.makedirs(osp.dirname(dst), exist_ok=True)
    match = _HASH.search(osp.basename(dst))
    if progress:
        from mmengine.logging import print_log
        print_log(f'kdtools: downloading {url} to {dst}', logger='current')
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(TIMEOUT)
    try:
        torch.hub.download_url_to_file(
            url, dst, match.group(1) if match else None, progress=progress)
    except (OSError, ValueError, RuntimeError) as e:
        reason = getattr(e, 'reason', None) or e
        return f'{type(e).__name__}: {str(reason).splitlines()[0][:160]}'
    finally:
        socket.setdefaulttimeout(previous)
    return None


def fetch(url: str, model_dir: Optional[str] = None,
          progress: bool = True) -> str:
    """The local file of the checkpoint at ``url``, downloaded into the
    cache if it is not there yet (in a distributed run rank 0 first, the
    others after it). Raises :class:`CheckpointError` in one line when it
    cannot be fetched."""
    from mmengine.dist import barrier, get_dist_info
    dst = cached_path(url, model_dir)
    rank, world_size = get_dist_info()
    reason = None
    if rank == 0 and not osp.isfile(dst):
        reason = _download(url, dst, progress)
    if world_size > 1:
        barrier()
        if rank > 0 and not osp.isfile(dst):  # another node's disk
            reason = _download(url, dst, False)
    if not osp.isfile(dst):
        raise CheckpointError(
            f'could not fetch checkpoint {url} ({reason or "not downloaded"})'
            f'; download it where there is network access and put it at '
            f'{dst} (the torch hub cache; set TORCH_HOME to move it), or give '
            'a local path instead of the URL')
    return dst


def load_url_checkpoint(url: str, map_location=None,
                        model_dir: Optional[str] = None,
                        progress: bool = True):
    """The checkpoint at ``url``: fetched into the cache, then read by the
    safe loader."""
    from .checkpoint import load_checkpoint_file
    return load_checkpoint_file(fetch(url, model_dir, progress),
                                map_location=map_location)


def load_from_http(filename, map_location=None, model_dir=None,
                   progress=True):
    """mmengine's ``http(s)://`` checkpoint scheme, through the cache and
    the safe loader."""
    return load_url_checkpoint(filename, map_location, model_dir, progress)
