#!/usr/bin/env python
"""Evaluate a checkpoint on a config's test set with the MMLab metric the
config names (mAP: mmdet CocoMetric; mIoU: mmseg IoUMetric; top-1/top-5:
mmpretrain Accuracy) and optionally write the metrics as JSON.

Example:
    python tools/test.py CONFIG work_dirs/run/epoch_12.pth --out metrics.json
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Evaluate a checkpoint with the metric its config names '
        '(mAP, mIoU, top-1/top-5) and optionally write the metrics as JSON.')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file (a distiller '
                        'checkpoint or a plain model checkpoint)')
    parser.add_argument('--out', help='write {"metrics": {...}} JSON here')
    parser.add_argument('--work-dir', help='where the test logs go')
    parser.add_argument('--trust-checkpoint', action='append', default=[],
                        metavar='PATH', help='allow full unpickling of this '
                        'checkpoint (only for files you trust)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={}, help='override config entries, key=value')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm',
                                               'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _to_builtin(value):
    if hasattr(value, 'item'):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_to_builtin(v) for v in value]
    return value


def main(argv=None):
    args = parse_args(argv)
    from mmengine.dist import get_rank

    from kdtools.engine.runner_utils import (build_runner,
                                             close_distributed,
                                             prepare_checkpoint_trust,
                                             resolve_work_dir,
                                             setup_cpu_distributed)
    from kdtools.utils import (CheckpointError, KDToolsError, load_config,
                               register_all_modules)

    register_all_modules()
    try:
        cfg = load_config(args.config, args.cfg_options)
        if not osp.isfile(args.checkpoint):
            raise CheckpointError(f'checkpoint {args.checkpoint!r} does not '
                                  'exist')
        resolve_work_dir(cfg, args.config, args.work_dir)
        prepare_checkpoint_trust(cfg, args.trust_checkpoint)
        checkpoint = args.checkpoint
        if str(cfg.model.get('type', '')).split('.')[-1] == 'Distiller':
            # evaluate the student alone: no teacher is built or needed; the
            # plain student checkpoint is kept in the work dir
            from kdtools.models.distillers.export import (export_student,
                                                          student_config)
            checkpoint = osp.join(cfg.work_dir, 'student_exported.pth')
            export_student(cfg, args.checkpoint, checkpoint)
            work_dir = cfg.work_dir
            cfg = student_config(cfg)
            cfg.work_dir = work_dir
            print(f'kdtools: {args.config} is a distillation config; '
                  f'evaluating its student (exported to {checkpoint})',
                  flush=True)
        cfg.load_from = checkpoint
        cfg.resume = False
        setup_cpu_distributed(cfg, args.launcher)
        runner = build_runner(cfg, mode='test')
        metrics = runner.test()
    except KDToolsError as e:
        print(f'kdtools: error: {e}', file=sys.stderr)
        sys.exit(2)
    metrics = {k: _to_builtin(v) for k, v in metrics.items()}
    if get_rank() == 0:
        print(json.dumps(metrics, indent=2, sort_keys=True))
        if args.out:
            os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
            with open(args.out, 'w') as f:
                json.dump(dict(config=args.config,
                               checkpoint=args.checkpoint,
                               metrics=metrics), f, indent=2, sort_keys=True)
    close_distributed()
    return metrics


if __name__ == '__main__':
    main()
