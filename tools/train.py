#!/usr/bin/env python
"""Train a model (a plain MMLab model or a kdtools distiller) from a config
with mmengine's Runner.

Examples:
    python tools/train.py configs/det/gfl_r18_fpn_toydet.py
    python tools/train.py CONFIG --work-dir work_dirs/run1 --resume
    python tools/train.py CONFIG --cfg-options train_cfg.max_epochs=2
    python tools/train.py CONFIG --auto-scale-lr          # lr x batch/base
    tools/dist_train.sh CONFIG 2 --dist-timeout 120       # fail a stall fast
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    from mmengine.config import DictAction

    from kdtools.engine.runner_utils import CPU_DIST_TIMEOUT_S
    parser = argparse.ArgumentParser(
        description='Train a model (plain MMLab model or kdtools distiller) '
        'with mmengine\'s Runner.')
    parser.add_argument('config', help='config file path (local .py, or '
                        'package config like mmdet::gfl/gfl_r50_fpn_1x_coco.py)')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume training: from the newest complete checkpoint in the '
        'work dir, or from the checkpoint PATH given')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (AmpOptimWrapper)')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the learning rate by the total batch size (GPUs x '
        'samples per GPU) over the config\'s auto_scale_lr.base_batch_size, '
        'as mmdet\'s --auto-scale-lr')
    parser.add_argument(
        '--trust-checkpoint', action='append', default=[], metavar='PATH',
        help='allow full unpickling of this checkpoint (only for files you '
        'trust); by default checkpoints load with weights_only=True and the '
        'MMLab allow-list')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='override config entries, key=value (e.g. '
        'train_cfg.max_epochs=2 randomness.seed=1)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm',
                                               'mpi'], default='none',
                        help='job launcher (dist_train.sh sets pytorch)')
    parser.add_argument(
        '--dist-timeout', type=float, metavar='SECONDS',
        help='distributed runs: how long a rank waits in a collective for a '
        'rank that died or stalled before the run fails '
        '(env_cfg.dist_cfg.timeout; default on CPU/gloo: '
        f'{CPU_DIST_TIMEOUT_S} s, on GPU: torch\'s 30 min)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def prepare_config(args):
    """The config ``args`` describe, with every flag applied (mmdet's
    ``tools/train.py`` order: cfg-options, work dir, amp, auto-scale-lr,
    resume)."""
    from kdtools.engine.runner_utils import (prepare_checkpoint_trust,
                                             resolve_resume,
                                             resolve_work_dir)
    from kdtools.utils import ConfigError, load_config
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    resolve_work_dir(cfg, args.config, args.work_dir)
    if args.amp:
        import torch
        if not torch.cuda.is_available():
            raise ConfigError(
                '--amp needs a CUDA device (mmengine\'s AmpOptimWrapper '
                'trains in float16 on GPU); this machine has none')
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper in ('OptimWrapper', 'AmpOptimWrapper'):
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        else:
            print(f'kdtools: --amp ignored: optim_wrapper type '
                  f'{optim_wrapper!r} manages precision itself')
    if args.auto_scale_lr:
        auto = cfg.get('auto_scale_lr')
        if not isinstance(auto, dict) or 'base_batch_size' not in auto:
            raise ConfigError(
                f'--auto-scale-lr: {args.config!r} has no '
                'auto_scale_lr.base_batch_size; expected auto_scale_lr = '
                'dict(enable=False, base_batch_size=N) with N the total '
                'batch size its learning rate was set for (mmdet\'s configs '
                'have it)')
        cfg.auto_scale_lr.enable = True
    if args.dist_timeout is not None:
        if not args.dist_timeout > 0:
            raise ConfigError(f'--dist-timeout {args.dist_timeout:g}: '
                              'expected a positive number of seconds')
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
        timeout = args.dist_timeout
        cfg.env_cfg.dist_cfg.timeout = int(timeout) if float(
            timeout).is_integer() else timeout
    prepare_checkpoint_trust(cfg, args.trust_checkpoint)
    resolve_resume(cfg, args.resume)
    return cfg


# what torch's Optimizer.load_state_dict says when the checkpoint's
# optimizer was built for other parameters
_OPTIMIZER_MISMATCH = ("doesn't match the size of optimizer's group",
                       'different number of parameter groups')


def _other_model(path, detail):
    from kdtools.utils import CheckpointError
    return CheckpointError(
        f'--resume {path!r}: the checkpoint was written by a different '
        f'model/config ({detail}); expected a checkpoint this config '
        'wrote: pass --resume with one of its work dir\'s checkpoints')


def check_resume_source(runner, cfg):
    """Before training: the checkpoint ``--resume`` continues from holds
    the weights of this config's model (same names and shapes), not those
    of another config. Returns the checkpoint read (on the CPU), for the
    Runner's resume to reuse instead of reading the file again; None where
    nothing is resumed from a given path."""
    if not cfg.get('resume') or not cfg.get('load_from'):
        return None
    from mmengine.model import is_model_wrapper

    from kdtools.utils import load_checkpoint_file
    from kdtools.utils.checkpoint import state_dict_mismatch
    path = cfg.load_from
    ckpt = load_checkpoint_file(path, map_location='cpu')
    saved = ckpt.get('state_dict') if isinstance(ckpt, dict) else None
    if not isinstance(saved, dict):
        raise _other_model(path, 'it has no state_dict')
    model = runner.model.module if is_model_wrapper(runner.model) else \
        runner.model
    own = model.state_dict()
    missing, extra, shapes = state_dict_mismatch(own, saved)
    if not (extra or shapes) and (not missing or len(missing) < len(own)):
        # only some of this model's weights absent (e.g. a buffer a newer
        # version added): mmengine resumes and warns about them
        return ckpt
    parts = []
    if extra:
        parts.append(f'{len(extra)} of its {len(saved)} weights are not in '
                     f'this model, e.g. {extra[0]!r}')
    if missing:
        parts.append(f'{len(missing)} of this model\'s weights are missing, '
                     f'e.g. {missing[0]!r}')
    if shapes:
        k = shapes[0]
        parts.append(f'{len(shapes)} differ in shape, e.g. {k!r} '
                     f'{tuple(saved[k].shape)} vs {tuple(own[k].shape)}')
    raise _other_model(path, '; '.join(parts))


def _resume_one_line(runner, cfg, loaded=None) -> None:
    """An optimizer state that does not fit this config's optimizer (torch's
    "loaded state dict contains a parameter group that doesn't match the
    size of optimizer's group") is the same mistake: one line. ``loaded``
    (what :func:`check_resume_source` read from ``cfg.load_from``) is what
    the resume loads, instead of a second read of the file (torch moves the
    optimizer state to the parameters' device as it loads it)."""
    resume = runner.resume

    def checked_resume(filename, *a, **kw):
        try:
            if loaded is None or filename != cfg.get('load_from'):
                return resume(filename, *a, **kw)
            import mmengine.runner.runner as runner_module
            read = runner_module._load_checkpoint

            def reuse(name, *args, **kwargs):
                return loaded if name == filename else read(name, *args,
                                                            **kwargs)
            runner_module._load_checkpoint = reuse
            try:
                return resume(filename, *a, **kw)
            finally:
                runner_module._load_checkpoint = read
        except ValueError as e:
            if any(m in str(e) for m in _OPTIMIZER_MISMATCH):
                raise _other_model(
                    filename, 'its optimizer state has other parameter '
                    'groups than this config\'s optimizer') from None
            raise
    runner.resume = checked_resume


def main(argv=None):
    args = parse_args(argv)
    from kdtools.engine.runner_utils import (build_runner,
                                             close_distributed,
                                             setup_cpu_distributed)
    from kdtools.utils import KDToolsError, register_all_modules

    register_all_modules()
    try:
        cfg = prepare_config(args)
        setup_cpu_distributed(cfg, args.launcher)
        runner = build_runner(cfg, mode='train')
        _resume_one_line(runner, cfg, check_resume_source(runner, cfg))
        runner.train()
    except KDToolsError as e:
        print(f'kdtools: error: {e}', file=sys.stderr)
        sys.exit(2)
    close_distributed()


if __name__ == '__main__':
    main()
