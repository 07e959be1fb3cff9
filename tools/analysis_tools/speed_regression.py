#!/usr/bin/env python
"""Is any method slower than at an earlier commit? Runs each version's own
``tools/analysis_tools/benchmark.py`` on the same configs, one after the
other per config (the earlier commit checked out in a temporary git
worktree, its own ``kdtools`` imported), and prints, per config, the
distillation step (c) and the plain student step (a) of each version and
the change of c / a (the student step is the same code in both versions,
so c / a cancels the machine's drift between the two runs).

Example (the commit before issue 22's first change):
    python tools/analysis_tools/speed_regression.py f2a48f6^ \
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
BENCHMARK = osp.join('tools', 'analysis_tools', 'benchmark.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Time the distillation step of each config at an '
        'earlier commit and now (each version\'s own benchmark.py, random '
        'teacher weights) and print the change of c / a per config.')
    parser.add_argument('base', help='the earlier commit (any git rev)')
    parser.add_argument('configs', nargs='+', help='distillation configs')
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--out', default='work_dirs/speed_regression',
                        help='folder for each run\'s JSON')
    parser.add_argument('--extra', nargs=argparse.REMAINDER, default=[],
                        help='more benchmark.py arguments for both versions')
    return parser.parse_args(argv)


def run_benchmark(root, config, out_json, iters, extra):
    """One benchmark.py run of the code at ``root`` (its own kdtools first
    on the path), from this repository's root (data paths); its JSON."""
    cmd = [sys.executable, osp.join(root, BENCHMARK),
           osp.join(root, config), '--iters', str(iters), '--random-teacher',
           '--json', out_json] + list(extra)
    env = dict(os.environ, PYTHONPATH=root)
    subprocess.run(cmd, cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    with open(out_json) as f:
        return json.load(f)


def row(config, before, after):
    """The figures compared for one config (seconds in, ms out)."""
    def parts(r):
        m = r['median_s']
        return m['c_distill_step'] * 1e3, m['a_student_step'] * 1e3
    c0, a0 = parts(before)
    c1, a1 = parts(after)
    r0, r1 = c0 / a0, c1 / a1
    return dict(config=config, c_before_ms=c0, c_after_ms=c1,
                a_before_ms=a0, a_after_ms=a1, c_over_a_before=r0,
                c_over_a_after=r1, change=r1 / r0 - 1)


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
            runs = {}
            for label, root in (('before', tree), ('after', ROOT)):
                out = osp.join(args.out, f'{name}.{label}.json')
                runs[label] = run_benchmark(root, config, out, args.iters,
                                            args.extra)
            rows.append(row(config, runs['before'], runs['after']))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    finally:
        subprocess.run(['git', 'worktree', 'remove', '--force', tree],
                       cwd=ROOT, capture_output=True)
    print(f'\nbefore = {base}, now = the working tree; medians of '
          f'{args.iters} steps each\n')
    print(table(rows))
    with open(osp.join(args.out, 'summary.json'), 'w') as f:
        json.dump(dict(base=base, rows=rows), f, indent=2)
    return rows


if __name__ == '__main__':
    main()
