#!/usr/bin/env python
"""Train the teachers the shipped embedded-data distillation configs name,
each to the checkpoint path those configs give (``make teachers``).

Each teacher is trained once with tools/train.py (seed 0), kept as a plain
checkpoint and evaluated with tools/test.py, exactly as ``make demo`` and
tools/analysis_tools/bench_quality.py train theirs (they share the folders,
so a teacher any of them trained is reused):

    work_dirs/demo/teacher/gfl_mobilenetv2_fpn_12e_toydet.pth        det
    work_dirs/demo/det-two-stage_teacher/faster-rcnn_mobilenetv2_fpn_12e_toydet.pth
    work_dirs/demo/seg_teacher/pspnet_mobilenetv2-d8_8k_toyseg.pth    seg
    work_dirs/demo/cls_teacher_{cnn,vit,r32}/<config>.pth             cls

Teachers of the configs for COCO, Cityscapes, NYUv2, CIFAR and
Fashion-MNIST are not trained here: the COCO and Cityscapes configs name the
model zoo's published checkpoints by URL, the others say in their header
which config trains their teacher.

Examples:
    python tools/misc/make_teachers.py                  # every task
    python tools/misc/make_teachers.py --tasks det seg  # some
    python tools/misc/make_teachers.py --list           # what, where
"""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'misc'))  # run_demo
from run_demo import (STAGE_LABELS, TEACHER, data_options,  # noqa: E402
                      sh, train_teacher)

WORK_DIR = 'work_dirs/demo'
#: task -> {teacher folder under WORK_DIR: its config}
TEACHERS = {
    'det': {'teacher': TEACHER},
    'det-two-stage': {
        'det-two-stage_teacher':
        'configs/det/faster-rcnn_mobilenetv2_fpn_12e_toydet.py'},
    'seg': {'seg_teacher': 'configs/seg/pspnet_mobilenetv2-d8_8k_toyseg.py'},
    'cls': {'cls_teacher_cnn': 'configs/cls/resnet18-base32_10e_toycls.py',
            'cls_teacher_vit': 'configs/cls/vit-small-p4_10e_toycls.py',
            'cls_teacher_r32': 'configs/cls/resnet32-cifar_10e_toycls.py'},
}


def teacher_checkpoint(folder: str, config: str,
                       work_dir: str = WORK_DIR) -> str:
    """Where a teacher's plain checkpoint is kept (the path configs name)."""
    return osp.join(work_dir, folder,
                    osp.splitext(osp.basename(config))[0] + '.pth')


def planned(tasks, work_dir: str = WORK_DIR):
    """``(task, config, teacher folder, checkpoint)`` for each teacher."""
    return [(task, config, osp.join(work_dir, folder),
             teacher_checkpoint(folder, config, work_dir))
            for task in tasks for folder, config in TEACHERS[task].items()]


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Train the teachers of the shipped embedded-data '
        'distillation configs to the checkpoint paths they name.')
    parser.add_argument('--tasks', nargs='+', choices=list(TEACHERS),
                        default=list(TEACHERS))
    parser.add_argument('--data', default='data/toy')
    parser.add_argument('--work-dir', default=WORK_DIR,
                        help='configs name work_dirs/demo; another folder '
                        'needs --cfg-options model.teacher.checkpoint=...')
    parser.add_argument('--retrain', action='store_true',
                        help='train again a teacher that exists')
    parser.add_argument('--list', action='store_true',
                        help='print each teacher\'s config and checkpoint')
    args = parser.parse_args(argv)
    plan = planned(args.tasks, args.work_dir)
    if args.list:
        for task, config, _, ckpt in plan:
            state = 'exists' if osp.isfile(ckpt) else 'missing'
            print(f'{task:14s} {config} -> {ckpt} ({state})')
        return
    sh(['tools/dataset_converters/make_toy_data.py', '--out', args.data,
        '--if-missing'])
    sh(['tools/model_converters/convert_mobilenetv2.py', '--if-missing'])
    sh(['tools/model_converters/convert_mobilenetv2.py', '--format', 'mmseg',
        '--if-missing'])
    opts = [f'{k}={v}' for k, v in data_options(args.data).items()]
    todo = [p for p in plan if args.retrain or not (
        osp.isfile(p[3]) and osp.isfile(osp.join(p[2], 'teacher.json')))]
    for i, (task, config, tdir, _) in enumerate(todo, 1):
        STAGE_LABELS[osp.join(tdir, 'run')] = \
            f'teacher {i}/{len(todo)}: {osp.basename(config)}'
    for task, config, tdir, ckpt in plan:
        if (task, config, tdir, ckpt) not in todo:
            print(f'reusing {ckpt}')
            continue
        train_teacher(config, tdir, ckpt, opts)
        print(f'teacher ready: {ckpt}')


if __name__ == '__main__':
    main()
