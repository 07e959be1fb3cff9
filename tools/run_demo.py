#!/usr/bin/env python
"""The main job on the embedded data: train a GFL detector on the embedded
detection set with tools/train.py, evaluate it with tools/test.py (mmdet's
CocoMetric) and print its mAP.

Example:
    python tools/run_demo.py --data data/toy
"""
import argparse
import json
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/det/gfl_r18_fpn_12e_toydet.py'


def run(args):
    print('$', ' '.join(args), flush=True)
    subprocess.run([sys.executable] + args, cwd=ROOT, check=True)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Train and evaluate a GFL detector on the embedded '
        'detection data and print its mAP.')
    parser.add_argument('--data', default='data/toy',
                        help='embedded data folder (made if missing)')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--config', default=CONFIG)
    args = parser.parse_args(argv)

    run(['tools/make_toy_data.py', '--out', args.data, '--if-missing'])
    root = osp.join(args.data, 'det') + '/'
    opts = ['--cfg-options', f'train_dataloader.dataset.data_root={root}',
            f'val_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}',
            f'val_evaluator.ann_file={root}annotations/instances_val.json',
            f'test_evaluator.ann_file={root}annotations/instances_val.json']
    work = osp.join(args.work_dir, osp.splitext(osp.basename(args.config))[0])
    start = time.time()
    run(['tools/train.py', args.config, '--work-dir', work] + opts)
    train_s = time.time() - start
    ckpt = osp.join(work, f'epoch_12.pth')
    with open(osp.join(ROOT, work, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    out = osp.join(work, 'metrics.json')
    run(['tools/test.py', args.config, ckpt, '--out', out,
         '--work-dir', osp.join(work, 'test')] + opts)
    with open(osp.join(ROOT, out)) as f:
        metrics = json.load(f)['metrics']
    print()
    print(f'model     : {args.config}')
    print(f'checkpoint: {ckpt}')
    print(f'train time: {train_s / 60:.1f} min')
    print(f'bbox mAP  : {metrics["coco/bbox_mAP"]:.3f}  '
          f'(mAP@50 {metrics["coco/bbox_mAP_50"]:.3f}, '
          f'mAP@75 {metrics["coco/bbox_mAP_75"]:.3f})')


if __name__ == '__main__':
    main()
