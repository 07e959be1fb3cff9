#!/usr/bin/env python
"""Is any method slower than at an earlier commit? Times, per config, the
distillation training step (c) and the plain student's training step (a,
the student as its own config builds it, no kdtools code in it) with the
code of each version: the earlier commit checked out in a temporary git
worktree and imported first on the path, then this working tree, one
after the other, with this file's one timing harness (``--child``) for
both, random teacher weights, the same batches, the two steps
interleaved. It prints c and a of each version and the change of c / a:
the student step runs the same mmdet/mmseg/mmpretrain code in both
versions, so c / a cancels the machine's drift between the two runs.

Example (0228572: the last commit before issue 22's work whose kdtools
imports; ``make bench-speed-regression`` runs every family):
    python tools/analysis_tools/speed_regression.py 0228572 \
        configs/det/hint/hint_fpn_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py \
        configs/det/ld/ld_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py --iters 20
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HERE = osp.abspath(__file__)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Time the distillation step of each config at an '
        'earlier commit and now (each version\'s own benchmark.py, random '
        'teacher weights) and print the change of c / a per config.')
    parser.add_argument('base', help='the earlier commit (any git rev)')
    parser.add_argument('configs', nargs='+', help='distillation configs')
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=1,
                        help='runs of each version per config (alternating '
                        'before/after); the table shows their medians')
    parser.add_argument('--out', default='work_dirs/speed_regression',
                        help='folder for each run\'s JSON')
    parser.add_argument('--child', metavar='ROOT', help=argparse.SUPPRESS)
    parser.add_argument('--json', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_benchmark(root, config, out_json, iters, warmup=3):
    """Time ``config`` with the kdtools at ``root`` (a child process with
    ``root`` first on the path, started from this repository's root for
    the data paths); its JSON."""
    cmd = [sys.executable, HERE, '-', osp.join(root, config), '--child',
           root, '--iters', str(iters), '--warmup', str(warmup), '--json',
           out_json]
    env = dict(os.environ, PYTHONPATH=root)
    subprocess.run(cmd, cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    with open(out_json) as f:
        return json.load(f)


def time_steps(config, iters, warmup, batches=4):
    """In the child: medians of the plain student's and the distiller's
    training steps, interleaved over the same ``batches`` batches, with
    only the APIs every kdtools version has."""
    import statistics
    import time

    import torch
    import benchmark  # beside this file (see main: its kdtools is ours)
    from mmengine.optim import OptimWrapper
    from mmengine.registry import MODELS
    from mmengine.runner import Runner

    from kdtools.utils import load_config, register_all_modules
    register_all_modules()
    cfg = load_config(config)
    model_cfg = benchmark._random_teacher_cfg(cfg.model)
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.train()
    student = plain_student(cfg, model_cfg)
    student.init_weights()
    student.train()
    loader_cfg = dict(cfg.train_dataloader, num_workers=0,
                      persistent_workers=False)
    data = []
    for item in Runner.build_dataloader(loader_cfg, seed=0):
        data.append(item)
        if len(data) == batches:
            break
    opt_s = OptimWrapper(torch.optim.SGD(student.parameters(), lr=1e-4))
    opt_d = benchmark.distill_optim_wrapper(model)
    steps = dict(a_student_step=lambda d: student.train_step(d, opt_s),
                 c_distill_step=lambda d: model.train_step(d, opt_d))
    times = {k: [] for k in steps}
    for i in range(warmup + iters):
        for name, step in steps.items():
            start = time.perf_counter()
            step(data[i % len(data)])
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return dict(config=config, iters=iters,
                torch_threads=torch.get_num_threads(),
                median_s={k: statistics.median(v) for k, v in times.items()},
                inference_setting=getattr(model, 'inference_setting', None))


def plain_student(cfg, model_cfg):
    """The student as its own config builds it: with kdtools' builder where
    the version has it, else mmengine's under the config's default scope
    (versions before ``build_model``); mmdet/mmseg/mmpretrain code only
    either way."""
    top = cfg.get('data_preprocessor')
    top = top.to_dict() if hasattr(top, 'to_dict') else top
    try:
        from kdtools.models.distillers.teacher import (build_model,
                                                       student_cfg_from)
        return build_model(student_cfg_from(model_cfg['student'], top),
                           'plain student')
    except (ImportError, TypeError):
        from mmengine.registry import MODELS, DefaultScope
        student = dict(model_cfg['student'])
        if top is not None and student.get('data_preprocessor') is None:
            student['data_preprocessor'] = top
        with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
            return MODELS.build(student)


def row(config, before, after):
    """The figures compared for one config (seconds in, ms out): each
    version's run, or list of runs (then the medians over them)."""
    import statistics

    def parts(runs):
        runs = runs if isinstance(runs, list) else [runs]
        c = [r['median_s']['c_distill_step'] * 1e3 for r in runs]
        a = [r['median_s']['a_student_step'] * 1e3 for r in runs]
        return (statistics.median(c), statistics.median(a),
                statistics.median(x / y for x, y in zip(c, a)))
    c0, a0, r0 = parts(before)
    c1, a1, r1 = parts(after)
    return dict(config=config, c_before_ms=c0, c_after_ms=c1,
                a_before_ms=a0, a_after_ms=a1, c_over_a_before=r0,
                c_over_a_after=r1, change=r1 / r0 - 1,
                runs=len(before) if isinstance(before, list) else 1)


def table(rows):
    lines = ['| config | c before | c now | a before | a now | c/a before '
             '| c/a now | change |', '|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(
            f'| `{osp.basename(r["config"])}` | {r["c_before_ms"]:.1f} ms | '
            f'{r["c_after_ms"]:.1f} ms | {r["a_before_ms"]:.1f} ms | '
            f'{r["a_after_ms"]:.1f} ms | {r["c_over_a_before"]:.3f} | '
            f'{r["c_over_a_after"]:.3f} | {100 * r["change"]:+.1f}% |')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        # benchmark.py's helpers (it puts this tree first on the path as it
        # is imported), then the version under test before it: every
        # kdtools import below is that version's
        sys.path.insert(0, osp.dirname(HERE))
        import benchmark  # noqa: F401
        sys.path.insert(0, args.child)
        result = time_steps(args.configs[0], args.iters, args.warmup)
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
        return result
    os.makedirs(args.out, exist_ok=True)
    base = subprocess.run(['git', 'rev-parse', '--short', args.base],
                          cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()
    tree = tempfile.mkdtemp(prefix=f'kdtools-{base}-')
    subprocess.run(['git', 'worktree', 'add', '--detach', tree, base],
                   cwd=ROOT, check=True, capture_output=True)
    rows = []
    try:
        for config in args.configs:
            config = osp.relpath(osp.abspath(config), ROOT)
            name = osp.splitext(osp.basename(config))[0]
            runs = dict(before=[], after=[])
            try:
                for i in range(args.repeats):
                    for label, root in (('before', tree), ('after', ROOT)):
                        out = osp.join(args.out, f'{name}.{label}.{i}.json')
                        runs[label].append(run_benchmark(
                            root, config, out, args.iters, args.warmup))
            except subprocess.CalledProcessError as e:
                print(f'{config}: a run failed (exit {e.returncode}); '
                      'skipped', flush=True)
                continue
            rows.append(row(config, runs['before'], runs['after']))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    finally:
        subprocess.run(['git', 'worktree', 'remove', '--force', tree],
                       cwd=ROOT, capture_output=True)
    print(f'\nbefore = {base}, now = the working tree; medians of '
          f'{args.iters} steps in each run, then over {args.repeats} '
          'run(s) per version\n')
    print(table(rows))
    with open(osp.join(args.out, 'summary.json'), 'w') as f:
        json.dump(dict(base=base, rows=rows), f, indent=2)
    return rows


if __name__ == '__main__':
    main()
