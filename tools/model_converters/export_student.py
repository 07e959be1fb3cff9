#!/usr/bin/env python
"""Export the student of a distillation checkpoint as a plain MMLab
checkpoint (and its plain config), loadable with ``strict=True`` by stock
mmdet / mmseg / mmpretrain code and evaluable with their own tools.

Example:
    python tools/export_student.py configs/det/hint/CONFIG.py \\
        work_dirs/hint/epoch_12.pth student.pth
    # writes student.pth and student.py (the student's own config)
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write the student of a kdtools distillation checkpoint '
        'as a plain checkpoint (+ its config) that stock MMLab code loads '
        'with strict=True.')
    parser.add_argument('config', help='the distillation config')
    parser.add_argument('checkpoint', help='a distiller checkpoint')
    parser.add_argument('out', help='output .pth; the student config is '
                        'written beside it as .py')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='allow full unpickling of CHECKPOINT (only for '
                        'files you trust)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from kdtools.models.distillers.export import export_student
    from kdtools.utils import KDToolsError, register_all_modules
    register_all_modules()
    try:
        out_cfg = export_student(args.config, args.checkpoint, args.out,
                                 trusted=args.trust_checkpoint or None)
    except KDToolsError as e:
        print(f'kdtools: error: {e}', file=sys.stderr)
        sys.exit(2)
    print(f'student checkpoint: {args.out}\nstudent config:     {out_cfg}')


if __name__ == '__main__':
    main()
