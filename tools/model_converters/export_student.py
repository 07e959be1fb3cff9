#!/usr/bin/env python
"""Export the student of a distillation checkpoint as a plain MMLab
checkpoint (and its plain config), loadable with ``strict=True`` by stock
mmdet / mmseg / mmpretrain code and evaluable with their own tools.

OUT must end in ``.pth``; the student config is written beside it with the
same name and ``.py``. Existing files are never overwritten unless
``--force`` is given, and the input checkpoint and config never are.

Example:
    python tools/model_converters/export_student.py \\
        configs/det/hint/CONFIG.py work_dirs/hint/epoch_12.pth student.pth
    # writes student.pth and student.py (the student's own config)
"""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

TRUST = '--trust-checkpoint'
N_POSITIONAL = 3  # config, checkpoint, out


def _bare_trust_flags(argv):
    """``--trust-checkpoint`` takes an optional PATH; written alone (the
    old form, meaning CHECKPOINT) before a positional argument, argparse
    would take that argument as the PATH. Where the positionals would then
    be too few, the flag is read as bare: rewritten ``--trust-checkpoint=``
    (empty PATH: CHECKPOINT)."""
    argv = list(argv)
    positional, takes = [], []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == '--':
            positional += argv[i + 1:]
            break
        if arg == TRUST and i + 1 < len(argv) and \
                not argv[i + 1].startswith('-'):
            takes.append(i)
            i += 2
            continue
        if not arg.startswith('-'):
            positional.append(arg)
        i += 1
    short = N_POSITIONAL - len(positional)
    for i in takes[:max(short, 0)]:
        argv[i] = TRUST + '='
    return argv


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write the student of a kdtools distillation checkpoint '
        'as a plain checkpoint (+ its config) that stock MMLab code loads '
        'with strict=True.')
    parser.add_argument('config', help='the distillation config')
    parser.add_argument('checkpoint', help='a distiller checkpoint')
    parser.add_argument('out', help='output checkpoint, ending in .pth; the '
                        'student config is written beside it as .py')
    parser.add_argument(
        TRUST, action='append', nargs='?', const='', default=[],
        metavar='PATH', help='allow full unpickling of the checkpoint PATH '
        '(only for files you trust); without PATH: CHECKPOINT')
    parser.add_argument('--force', action='store_true',
                        help='overwrite OUT and its .py if they exist (the '
                        'input checkpoint and config are never '
                        'overwritten)')
    if argv is None:
        argv = sys.argv[1:]
    return parser.parse_args(_bare_trust_flags(argv))


def main(argv=None):
    args = parse_args(argv)
    from kdtools.models.distillers.export import export_student
    from kdtools.utils import (KDToolsError, register_all_modules,
                               trust_checkpoints)
    register_all_modules()
    trust_checkpoints(p or args.checkpoint for p in args.trust_checkpoint)
    try:
        out_cfg = export_student(args.config, args.checkpoint, args.out,
                                 force=args.force)
    except KDToolsError as e:
        print(f'kdtools: error: {e}', file=sys.stderr)
        sys.exit(2)
    print(f'student checkpoint: {args.out}\nstudent config:     {out_cfg}')


if __name__ == '__main__':
    main()
