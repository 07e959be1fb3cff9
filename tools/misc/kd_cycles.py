#!/usr/bin/env python
"""Distillation cycles (the learning cycle of the project's seed note 000):
train a distillation config, export its student, and let that student join
(or replace) the teacher set of the next cycle; repeat k times. Every
cycle's config, checkpoints, exported student and metrics are kept under
``WORK_DIR/cycle<k>/`` and the cycles are tabulated (``WORK_DIR/cycles.json``).

Each cycle trains a fresh student (the config's own initialisation) with
the same schedule; only the teacher set changes.

Examples:
    # DeiT-hard from the CNN teacher, then from {CNN, cycle-1 DeiT}
    python tools/misc/kd_cycles.py \\
        configs/cls/deit/deit-hard_resnet18-base32_to_deit-tiny-p4_10e_toycls.py \\
        --cycles 2 --mode join --work-dir work_dirs/cycles_deit_hard
    # the previous student as the only teacher
    python tools/misc/kd_cycles.py CONFIG --cycles 3 --mode replace
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'misc'))  # run_demo


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='a kdtools distillation config')
    parser.add_argument('--cycles', type=int, default=2,
                        help='number of cycles k >= 1 (default 2)')
    parser.add_argument('--mode', default='join',
                        help='join: the cycle\'s student is added to the '
                        'teachers; replace: it becomes the only teacher '
                        '(default join)')
    parser.add_argument('--work-dir', help='default: work_dirs/cycles_'
                        '<config name>')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={}, metavar='KEY=VALUE',
                        help='overrides applied to every cycle\'s config')
    args = parser.parse_args(argv)
    if args.cycles < 1:
        parser.error(f'--cycles {args.cycles}: expected at least 1 cycle')
    if args.mode not in ('join', 'replace'):
        parser.error(f'--mode {args.mode!r}: expected "join" or "replace"')
    return args


def cycle_config(cfg, cycle: int, previous, mode: str):
    """The config of ``cycle`` (1-based): ``cfg`` with the previous cycle's
    exported student (``(config, checkpoint)``) joining or replacing its
    teachers."""
    from mmengine.config import ConfigDict
    model = cfg.model
    teachers = dict(model.get('teachers') or {})
    if model.get('teacher') is not None:
        teachers = dict(teacher=model.pop('teacher'))
    if previous is not None:
        new = ConfigDict(config=previous[0], checkpoint=previous[1])
        if mode == 'replace':
            teachers = {}
        teachers[f'cycle{cycle - 1}'] = new
    model.teachers = ConfigDict(teachers)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    from run_demo import evaluate, train

    from kdtools.models.distillers.export import export_student
    from kdtools.utils import load_config, register_all_modules
    register_all_modules()
    options = args.cfg_options
    base = load_config(args.config, options)
    if base.model.get('type', '').split('.')[-1] != 'Distiller':
        raise SystemExit(f'{args.config}: model.type is '
                         f'{base.model.get("type")!r}; distillation cycles '
                         'need a kdtools Distiller config')
    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = osp.abspath(args.work_dir or
                           osp.join('work_dirs', f'cycles_{name}'))
    os.makedirs(work_dir, exist_ok=True)

    rows, previous = [], None
    for cycle in range(1, args.cycles + 1):
        cdir = osp.join(work_dir, f'cycle{cycle}')
        os.makedirs(cdir, exist_ok=True)
        done = osp.join(cdir, 'cycle.json')
        if osp.isfile(done):  # resumable: a finished cycle is reused
            with open(done) as f:
                row = json.load(f)
            print(f'reusing cycle {cycle}: {cdir}', flush=True)
        else:
            cfg = cycle_config(load_config(args.config, options), cycle,
                               previous, args.mode)
            cfg_path = osp.join(cdir, f'{name}_cycle{cycle}.py')
            cfg.dump(cfg_path)
            start = time.time()
            last, _ = train(cfg_path, osp.join(cdir, 'train'), args.seed, [])
            train_s = time.time() - start
            student = osp.join(cdir, 'student.pth')
            # this cycle's own export, redone when the cycle is
            student_cfg = export_student(cfg_path, last, student, force=True)
            metrics = evaluate(student_cfg, student, cdir, [])
            row = dict(cycle=cycle, teachers=sorted(cfg.model.teachers),
                       checkpoint=last, student=student,
                       student_config=student_cfg, train_s=train_s,
                       metrics=metrics)
            with open(done, 'w') as f:
                json.dump(row, f, indent=2)
        rows.append(row)
        previous = (row['student_config'], row['student'])

    keys = sorted({k for r in rows for k in r['metrics']
                   if isinstance(r['metrics'][k], (int, float))})
    print(f'\n{args.cycles} cycle(s) of {name}, mode {args.mode}, seed '
          f'{args.seed}')
    header = f'{"cycle":>5s}  {"teachers":32s}' + ''.join(
        f' {k:>16s}' for k in keys) + f' {"train min":>10s}'
    print(header)
    print('-' * len(header))
    for r in rows:
        print(f'{r["cycle"]:5d}  {", ".join(r["teachers"]):32s}' + ''.join(
            f' {r["metrics"].get(k, float("nan")):16.3f}' for k in keys) +
            f' {r["train_s"] / 60:10.1f}')
    out = osp.join(work_dir, 'cycles.json')
    with open(out, 'w') as f:
        json.dump(dict(config=args.config, mode=args.mode, seed=args.seed,
                       cycles=rows), f, indent=2)
    print(f'\nwritten to {out}')
    return rows


if __name__ == '__main__':
    main()
