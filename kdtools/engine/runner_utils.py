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
from kdtools.utils.errors import CheckpointError, ConfigError, RegistryError


def _is_complete_checkpoint(path: str) -> bool:
    """A torch zip checkpoint whose central directory is intact."""
    if not osp.isfile(path) or osp.getsize(path) == 0:
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.testzip() is None
    except (zipfile.BadZipFile, OSError):
        return False


def _recover_temporaries(work_dir: str) -> None:
    """Finish or clean up saves a kill interrupted: a complete temporary
    checkpoint (``.<name>.pth.<random>.tmp``, written and fsynced but not yet
    renamed) whose checkpoint does not exist becomes that checkpoint; any
    other temporary (and a half-written ``last_checkpoint.tmp``) is
    removed."""
    for tmp in glob.glob(osp.join(work_dir, '.*.pth.*.tmp')):
        name = osp.basename(tmp)[1:].rsplit('.', 2)[0]
        target = osp.join(work_dir, name)
        try:
            if not osp.exists(target) and _is_complete_checkpoint(tmp):
                os.replace(tmp, target)
            else:
                os.remove(tmp)
        except FileNotFoundError:  # another rank got there first
            pass
    stale = osp.join(work_dir, 'last_checkpoint.tmp')
    if osp.isfile(stale):
        try:
            os.remove(stale)
        except FileNotFoundError:
            pass


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` continues from: the one named in
    ``work_dir/last_checkpoint`` if it is complete, else the newest complete
    ``*.pth`` in ``work_dir`` (after recovering interrupted saves); None if
    there is none."""
    _recover_temporaries(work_dir)
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


# how long a CPU (gloo) rank waits in a collective for a rank that stalled
# before the run fails (torch's default is 30 minutes); set
# env_cfg.dist_cfg.timeout (seconds) or tools/train.py --dist-timeout
CPU_DIST_TIMEOUT_S = 300


def needs_unused_parameters(model_cfg) -> bool:
    """Whether some iterations leave trainable parameters out of the loss:
    a Distiller with ``loss_schedules`` (a term or the student's task loss
    switched on or off by iteration/epoch, e.g. FSP's stage 1 trains only the
    layers its matrices reach) or with ``student_loss_weight=0`` (the
    student runs only as far as its recorders need). DDP must then look for
    unused parameters, or its gradient reduction never completes
    ("Expected to have finished reduction") and the ranks' weights drift
    apart."""
    model_cfg = model_cfg or {}
    return bool(model_cfg.get('loss_schedules')) or \
        model_cfg.get('student_loss_weight', 1) == 0


def configure_ddp(cfg: Config) -> None:
    """Set DDP's ``find_unused_parameters`` from the model's schedule where
    the user has not set it (:func:`needs_unused_parameters`)."""
    if not needs_unused_parameters(cfg.get('model')):
        return
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is not None:
        wrapper.setdefault('find_unused_parameters', True)
    elif cfg.get('find_unused_parameters') is None:
        cfg.find_unused_parameters = True


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Distributed set-up for ``--launcher pytorch|slurm|mpi``: DDP's unused
    parameter search from the schedule (:func:`configure_ddp`); on machines
    without CUDA, a gloo process group (mmengine's own init would call
    ``torch.cuda.set_device``) and DDP without ``device_ids``."""
    cfg.launcher = launcher
    if launcher == 'none':
        return
    configure_ddp(cfg)
    if torch.cuda.is_available():
        return
    import datetime

    import torch.distributed as dist
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg.backend = 'gloo'
    timeout = cfg.env_cfg.dist_cfg.setdefault('timeout',
                                              CPU_DIST_TIMEOUT_S)
    if not dist.is_initialized():
        dist.init_process_group(
            backend='gloo', timeout=datetime.timedelta(seconds=timeout))
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


def _refuse_lost_progress(work_dir: str) -> None:
    """``--resume`` found nothing loadable: fine in a fresh work dir, an
    error where an earlier run saved checkpoints (never restart from scratch
    over them silently)."""
    record = osp.join(work_dir, 'last_checkpoint')
    left = sorted(glob.glob(osp.join(work_dir, '*.pth')))
    if not osp.isfile(record) and not left:
        return
    named = ''
    if osp.isfile(record):
        with open(record) as f:
            named = f.read().strip()
    raise CheckpointError(
        f'--resume: {work_dir!r} holds no complete checkpoint (last_checkpoint'
        f' names {named or "nothing"!r}; checkpoint files: '
        f'{[osp.basename(p) for p in left] or "none"}); expected a readable '
        '.pth to continue from: pass --resume PATH, or remove the work dir '
        'to start over')


def resolve_resume(cfg: Config, resume: Optional[str]) -> None:
    """``--resume`` (auto: the newest complete checkpoint in the work dir)
    or ``--resume PATH``."""
    if not resume:
        return
    if resume == 'auto':
        found = find_resume_checkpoint(cfg.work_dir)
        if found is None:
            _refuse_lost_progress(cfg.work_dir)
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


# hooks every training run gets unless its config lists them: stop at the
# first non-finite loss, keep the random generators' state in checkpoints
KDTOOLS_TRAIN_HOOKS = ('StopOnNonFiniteHook', 'RandomStateHook')


def add_kdtools_hooks(cfg: Config) -> None:
    """Add :data:`KDTOOLS_TRAIN_HOOKS` to ``custom_hooks`` (by their
    ``kdtools.`` scoped names, so they build under any default scope), each
    unless the config lists it already."""
    hooks = list(cfg.get('custom_hooks', None) or [])
    listed = {str(h.get('type', '')).split('.')[-1] for h in hooks}
    for name in KDTOOLS_TRAIN_HOOKS:
        if name not in listed:
            hooks.append(dict(type=f'kdtools.{name}'))
    cfg.custom_hooks = hooks


def build_runner(cfg: Config, mode: str = 'train'):
    """Check the datasets the run will read (``mode`` 'train': train, val and
    test; 'test': test), then build the config's Runner (or the
    ``runner_type`` it names)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    if mode == 'train':
        check_optim_wrapper(cfg)
        check_runner_datasets(cfg)
        add_kdtools_hooks(cfg)
    else:
        check_runner_datasets(cfg, loaders=('test_dataloader', ))
    os.makedirs(cfg.work_dir, exist_ok=True)
    try:
        if 'runner_type' in cfg:
            return RUNNERS.build(cfg)
        return Runner.from_cfg(cfg)
    except KeyError as e:
        # mmengine's "X is not in the mmdet::model registry": say which
        # prefix or scope fixes it, in one line
        from kdtools.registry import explain_registry_error
        why = explain_registry_error(e)
        if why is None:
            raise
        raise RegistryError(why) from None
