"""What ``tools/train.py`` and ``tools/test.py`` share: building a Runner
from a kdtools config after the pre-flight checks, finding the checkpoint to
resume from, and CPU (gloo) distributed set-up."""
import glob
import os
import os.path as osp
import zipfile
from typing import Optional

import torch
from mmengine.config import Config

from kdtools.datasets.checks import check_runner_datasets
from kdtools.utils.checkpoint import trust_checkpoints
from kdtools.utils.errors import CheckpointError, ConfigError


def _is_complete_checkpoint(path: str) -> bool:
    """A torch zip checkpoint whose central directory is intact."""
    if not osp.isfile(path) or osp.getsize(path) == 0:
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.testzip() is None
    except (zipfile.BadZipFile, OSError):
        return False


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` continues from: the one named in
    ``work_dir/last_checkpoint`` if it is complete, else the newest complete
    ``*.pth`` in ``work_dir``; None if there is none."""
    record = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(record):
        with open(record) as f:
            named = f.read().strip()
        if named and _is_complete_checkpoint(named):
            return named
    candidates = sorted(glob.glob(osp.join(work_dir, '*.pth')),
                        key=osp.getmtime, reverse=True)
    for path in candidates:
        if _is_complete_checkpoint(path):
            return path
    return None


def resolve_work_dir(cfg: Config, config_path: str,
                     work_dir: Optional[str] = None) -> None:
    """``--work-dir`` if given, else the config's ``work_dir``, else
    ``work_dirs/<config name>`` (mmdet's rule)."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join(
            'work_dirs', osp.splitext(osp.basename(config_path))[0])


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Run ``--launcher pytorch`` on machines without CUDA: gloo process
    group (mmengine's own init would call ``torch.cuda.set_device``) and
    DDP without ``device_ids``."""
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    import torch.distributed as dist
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg.backend = 'gloo'
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def close_distributed() -> None:
    """Leave the process group at the end of a distributed run: wait for
    every rank, then destroy it. A gloo group left to the interpreter's exit
    can abort the process (``terminate called without an active
    exception``, SIGABRT) after training has finished and saved."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def prepare_checkpoint_trust(cfg: Config, extra=()) -> None:
    """Opt in the files the user trusted (``trusted_checkpoints`` in the
    config, ``--trust-checkpoint`` on the command line)."""
    trusted = list(cfg.get('trusted_checkpoints', None) or []) + list(extra)
    cfg.trusted_checkpoints = trusted
    trust_checkpoints(trusted)


def resolve_resume(cfg: Config, resume: Optional[str]) -> None:
    """``--resume`` (auto: the newest complete checkpoint in the work dir)
    or ``--resume PATH``."""
    if not resume:
        return
    if resume == 'auto':
        found = find_resume_checkpoint(cfg.work_dir)
        if found is None:
            print(f'kdtools: no checkpoint in {cfg.work_dir!r} to resume '
                  'from; training starts from the beginning', flush=True)
            return
        resume = found
    elif not osp.isfile(resume):
        raise CheckpointError(f'--resume {resume!r}: no such checkpoint')
    cfg.resume = True
    cfg.load_from = resume


def check_optim_wrapper(cfg: Config) -> None:
    """A model with a discriminator (adversarial distillation) needs an
    optimizer for it: refuse the config before anything is built."""
    model = cfg.get('model') or {}
    if not model.get('discriminator'):
        return
    optim = cfg.get('optim_wrapper') or {}
    if 'discriminator' not in optim:
        raise ConfigError(
            'model.discriminator is set but optim_wrapper has no '
            '"discriminator" entry (it has '
            f'{sorted(k for k in optim if k != "_delete_")}); expected '
            'optim_wrapper=dict(constructor="DistillerOptimWrapperConstructor"'
            ', student=dict(...), discriminator=dict(...))')


def build_runner(cfg: Config, mode: str = 'train'):
    """Check the datasets the run will read (``mode`` 'train': train, val and
    test; 'test': test), then build the config's Runner (or the
    ``runner_type`` it names)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    if mode == 'train':
        check_optim_wrapper(cfg)
        check_runner_datasets(cfg)
    else:
        check_runner_datasets(cfg, loaders=('test_dataloader', ))
    os.makedirs(cfg.work_dir, exist_ok=True)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
