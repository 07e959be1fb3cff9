#!/usr/bin/env python
"""Train a model (a plain MMLab model or a kdtools distiller) from a config
with mmengine's Runner.

Examples:
    python tools/train.py configs/det/gfl_r18_fpn_toydet.py
    python tools/train.py CONFIG --work-dir work_dirs/run1 --resume
    python tools/train.py CONFIG --cfg-options train_cfg.max_epochs=2
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    from mmengine.config import DictAction
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
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None):
    args = parse_args(argv)
    from kdtools.engine.runner_utils import (build_runner,
                                             close_distributed,
                                             prepare_checkpoint_trust,
                                             resolve_resume,
                                             resolve_work_dir,
                                             setup_cpu_distributed)
    from kdtools.utils import (ConfigError, KDToolsError, load_config,
                               register_all_modules)

    register_all_modules()
    try:
        cfg = load_config(args.config, args.cfg_options)
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
        prepare_checkpoint_trust(cfg, args.trust_checkpoint)
        resolve_resume(cfg, args.resume)
        setup_cpu_distributed(cfg, args.launcher)
        runner = build_runner(cfg, mode='train')
        runner.train()
    except KDToolsError as e:
        print(f'kdtools: error: {e}', file=sys.stderr)
        sys.exit(2)
    close_distributed()


if __name__ == '__main__':
    main()
