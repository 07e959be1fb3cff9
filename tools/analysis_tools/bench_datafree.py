#!/usr/bin/env python
"""Data-free benchmark (issue 20, item 8): SSD-KD against Fast-Datafree and
DeepInversion on the embedded data, with the real-data references, each row
over several seeds (mean ± std), and SSD-KD's two claims checked.

Rows (``--task cls``: CIFAR ResNet-32 -> ResNet-14 on the embedded
classification set; ``--task seg``: PSPNet MobileNetV2-D8 -> FCN R-18/4-D8
on the embedded segmentation set):

- ``teacher``; ``student``: the student trained alone on the real training
  images; ``kd``: the student distilled on the real training images
  (Hinton KD for cls, SKD's pixel-wise KD for seg);
- ``deepinv``: DeepInversion-style inversion (pixels optimised, no
  generator); ``fast``: Fast-Datafree at its default budget (10x SSD-KD's);
- ``ssd-kd``: SSD-KD at 10% of Fast's budget; ``ssd-kd-same``: SSD-KD at
  Fast's budget; ``ssd-kd-no-phi`` and ``ssd-kd-no-priority``: the 10% run
  without the modulating function (gamma = kappa = 0) and without priority
  sampling (uniform draws, unit weights); ``ssd-kd-w-batch-mean``: the
  10% run with the importance weights normalised by the drawn batch's mean
  instead of PER's buffer maximum (``buffer.weight_norm='batch_mean'``).

For each row: the metric of the exported student (``tools/test.py``), the
number of synthetic images, the synthesis seconds (the distiller's own
counter, kept in the checkpoint), the seconds of every training iteration
summed (synthesis + distillation + the loop; validation and start-up
excluded), the wall time of ``tools/train.py`` and, for the data-free
rows, ``mean w``: the expected importance weight of a drawn item at the
end of the run (the factor the weights put on the student's loss; 1 for
uniform sampling). The claims, printed
after the table: (1) SSD-KD at 10% of the budget is within the seeds'
spread of Fast or better (its mean >= Fast's mean - Fast's std); (2) it
reaches Fast's final metric in less training time: per seed, the training
seconds until SSD-KD's validation first reaches the Fast run's final metric
of the same seed, over the Fast run's training seconds (validation every
``--val-points``-th of the run).

Every run is ``tools/train.py <config> --cfg-options randomness.seed=S``
with the iteration log at interval 1 (``log_processor.window_size=1``: the
iteration times are summed from ``vis_data/scalars.json``). Runs whose
``metrics.json`` exists are reused (delete the run's folder to redo it);
runs go to ``<work-dir>/datafree-<task>_<row>_seed<S>``, the teachers are
``tools/misc/make_teachers.py``'s (trained here when missing).

Examples:
    python tools/analysis_tools/bench_datafree.py --task cls --jobs 2
    python tools/analysis_tools/bench_datafree.py --task seg --jobs 2
    python tools/analysis_tools/bench_datafree.py --task cls \\
        --rows fast ssd-kd --seeds 0
"""
import argparse
import functools
import json
import os
import os.path as osp
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'misc'))  # run_demo
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
from bench_quality import format_paired, paired_difference  # noqa: E402
from run_demo import STAGE_LABELS, evaluate, sh, train  # noqa: E402
from run_demo import train_teacher  # noqa: E402

DF = 'configs/datafree/'
SSD = {'cls': DF + 'ssd-kd_resnet32-cifar_to_resnet14-cifar_toycls.py',
       'seg': DF + 'ssd-kd_pspnet-mbv2-d8_to_fcn-r18-base16-d8_toyseg.py'}
TEACHERS = {
    'cls': ('configs/cls/resnet32-cifar_10e_toycls.py', 'cls_teacher_r32'),
    'seg': ('configs/seg/pspnet_mobilenetv2-d8_8k_toyseg.py', 'seg_teacher'),
}
NO_PHI = ['model.synthesis.task.gamma=0.0', 'model.synthesis.task.kappa=0.0']
NO_PRIORITY = ['model.buffer.sampling=uniform']
W_MEAN = ['model.buffer.weight_norm=batch_mean']
# row -> (config, kind, config overrides); kind: 'plain' (trained alone),
# 'distill' (a kdtools Distiller on real data) or 'datafree'
ROWS = {
    'cls': {
        'student': ('configs/cls/resnet14-cifar_10e_toycls.py', 'plain', []),
        'kd': ('configs/cls/kd/kd_resnet32-cifar_to_resnet14-cifar_10e_'
               'toycls.py', 'distill', []),
        'deepinv': (DF + 'deepinv_resnet32-cifar_to_resnet14-cifar_toycls.py',
                    'datafree', []),
        'fast': (DF + 'fast2_resnet32-cifar_to_resnet14-cifar_toycls.py',
                 'datafree', []),
    },
    'seg': {
        'student': ('configs/seg/fcn_r18-base16-d8_2k_toyseg.py', 'plain',
                    []),
        'kd': ('configs/seg/skd/skd-pi_pspnet-mbv2-d8_to_fcn-r18-base16-d8_'
               '2k_toyseg.py', 'distill', []),
        'deepinv': (DF + 'deepinv_pspnet-mbv2-d8_to_fcn-r18-base16-d8_'
                    'toyseg.py', 'datafree', []),
        'fast': (DF + 'fast2_pspnet-mbv2-d8_to_fcn-r18-base16-d8_toyseg.py',
                 'datafree', []),
    },
}
for _task, _rows in ROWS.items():
    _rows['ssd-kd'] = (SSD[_task], 'datafree', [])
    _rows['ssd-kd-same'] = (SSD[_task], 'datafree', None)  # Fast's budget
    _rows['ssd-kd-no-phi'] = (SSD[_task], 'datafree', NO_PHI)
    _rows['ssd-kd-no-priority'] = (SSD[_task], 'datafree', NO_PRIORITY)
    _rows['ssd-kd-w-batch-mean'] = (SSD[_task], 'datafree', W_MEAN)
METRIC = {'cls': 'accuracy/top1', 'seg': 'mIoU'}


@functools.lru_cache(maxsize=None)
def _load(config):
    from kdtools.utils import load_config
    return load_config(osp.join(ROOT, config))


def config_value(config, key):
    """A dotted key of a config (``model.budget``); each config is read
    once."""
    value = _load(config)
    for part in key.split('.'):
        value = value[part]
    return value


def row_options(task, row):
    """The config overrides of a row (SSD-KD at Fast's budget reads the
    budget from Fast's config)."""
    config, _, opts = ROWS[task][row]
    if opts is None:
        fast_budget = config_value(ROWS[task]['fast'][0], 'model.budget')
        opts = [f'model.budget={fast_budget}']
    return config, list(opts)


def read_scalars(run_dir, metric):
    """From mmengine's ``vis_data/scalars.json`` of a run logged at interval
    1 with window 1 (metrics by iteration): the seconds of every training
    iteration (by step; the entries with a learning rate) and the validation
    curve ``[(step, metric)]``."""
    import glob
    times, curve = {}, []
    for path in sorted(glob.glob(osp.join(run_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            for line in f:
                entry = json.loads(line)
                if metric in entry:
                    curve.append((entry['step'], entry[metric]))
                elif 'time' in entry and any(k.endswith('lr')
                                             for k in entry):
                    times[entry['step']] = entry['time']
    return times, curve


def datafree_counters(checkpoint):
    """Synthetic images made and the distiller's synthesis / distillation
    seconds, from a data-free run's checkpoint."""
    import torch
    state = torch.load(checkpoint, map_location='cpu',
                       weights_only=False)['state_dict']
    return dict(synthesised=int(state['synthesised']),
                synthesis_s=float(state['synthesis_time']),
                distill_s=float(state['distill_time']))


def final_weight_scale(task, row, run_dir):
    """The expected importance weight of a drawn buffer item at the end of
    a data-free run, ``sum_x P(x) w(x)`` with its last priorities and beta
    (the factor by which the weights scale the student's loss against
    unit weights: 1 for uniform sampling and for ``weight_norm=
    'batch_mean'``), and the ratio of the largest to the smallest P."""
    import torch

    from kdtools.models.datafree import PriorityReplayBuffer  # noqa: F401
    from kdtools.registry import MODELS
    config, opts = row_options(task, row)
    buffer_cfg = dict(config_value(config, 'model.buffer'))
    prefix = 'model.buffer.'
    buffer_cfg.update({k[len(prefix):]: v for k, v in (
        o.split('=', 1) for o in opts) if k.startswith(prefix)})
    buffer = MODELS.build(dict(buffer_cfg, capacity=1, image_shape=(1, 1,
                                                                    1)))
    if buffer.sampling == 'uniform':
        return dict(mean_w=1.0, p_ratio=1.0)
    with open(osp.join(run_dir, 'last_checkpoint')) as f:
        state = torch.load(f.read().strip(), map_location='cpu',
                           weights_only=False)['state_dict']
    n = int(state['buffer.size'])
    # the buffer's own P and w over the run's last priorities
    buffer.priorities = state['buffer.priorities'][:n].float()
    buffer.size.fill_(n)
    probs = buffer.probabilities()
    w = buffer.weights(probs, float(state['beta']))  # PER's w / max w
    mean_w = 1.0 if buffer.weight_norm == 'batch_mean' else float(
        (probs * w).sum())
    return dict(mean_w=mean_w, p_ratio=float(probs.max() / probs.min()))


def run_one(task, row, seed, work_dir, tckpt, val_points):
    """Train, export and evaluate one row's seed (or reuse it); its
    ``metrics.json`` record."""
    config, opts = row_options(task, row)
    kind = ROWS[task][row][1]
    run_dir = osp.join(work_dir, f'datafree-{task}_{row}_seed{seed}')
    done = osp.join(run_dir, 'metrics.json')
    if osp.isfile(done):
        print(f'reusing {run_dir}', flush=True)
        with open(done) as f:
            return json.load(f)
    extra = list(opts) + ['log_processor.window_size=1',
                          'default_hooks.logger.interval=1',
                          'default_hooks.logger.log_metric_by_epoch=False']
    if kind != 'plain':
        extra.append(f'model.teacher.checkpoint={tckpt}')
    if kind == 'datafree':
        max_iters = int(config_value(config, 'train_cfg.max_iters'))
        extra.append('train_cfg.val_interval='
                     f'{max(1, max_iters // val_points)}')
    # a cut-off run resumes; its wall time is then unknown
    resume = osp.isfile(osp.join(run_dir, 'last_checkpoint'))
    last, wall = train(config, run_dir, seed, extra, resume=resume)
    record = dict(row=row, seed=seed, config=config, options=opts,
                  wall_s=None if resume else wall)
    if kind == 'datafree':
        record.update(datafree_counters(last))
    plain = osp.join(run_dir, 'student_exported.pth')
    if kind != 'plain':
        sh(['tools/model_converters/export_student.py', config, last, plain,
            '--force'])
        config, last = osp.splitext(plain)[0] + '.py', plain
    metrics = evaluate(config, last, run_dir, [])
    times, curve = read_scalars(run_dir, METRIC[task])
    record.update(metric=metrics[METRIC[task]], metrics=metrics,
                  train_iter_s=sum(times.values()),
                  curve=[(step, value, sum(t for s, t in times.items()
                                           if s <= step))
                         for step, value in curve])
    with open(done, 'w') as f:
        json.dump(record, f, indent=1)
    return record


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    if len(values) == 1:
        return values[0], 0.0
    return statistics.mean(values), statistics.stdev(values)


def fmt(values, digits=1):
    mean, std = mean_std(values)
    if mean is None:
        return '-'
    return f'{mean:.{digits}f} ± {std:.{digits}f}'


def time_to_reach(record, target):
    """Training seconds until the run's validation first reaches
    ``target`` (None: never)."""
    for _, value, seconds in record['curve']:
        if value >= target:
            return seconds
    return None


def claims(task, records, seeds, rows):
    """SSD-KD's two claims against Fast, printed; their figures."""
    out = {}
    if not {'fast', 'ssd-kd'} <= set(rows):
        return out
    fast = [records[('fast', s)]['metric'] for s in seeds]
    ssd = [records[('ssd-kd', s)]['metric'] for s in seeds]
    f_mean, f_std = mean_std(fast)
    s_mean, _ = mean_std(ssd)
    holds = s_mean >= f_mean - f_std
    paired = paired_difference(ssd, fast)
    n_f = records[('fast', seeds[0])].get('synthesised')
    n_s = records[('ssd-kd', seeds[0])].get('synthesised')
    print(f'\nclaim 1: SSD-KD with {n_s} synthetic images (Fast: {n_f}) is '
          f'within the seeds\' spread of Fast or better: {s_mean:.2f} vs '
          f'{f_mean:.2f} ± {f_std:.2f}: '
          f'{"holds" if holds else "does not hold"}; SSD-KD - Fast, same '
          f'seeds, 95% CI (seeds above): {format_paired(paired)}')
    ratios = []
    for seed in seeds:
        target = records[('fast', seed)]['metric']
        fast_s = records[('fast', seed)]['train_iter_s']
        reach = time_to_reach(records[('ssd-kd', seed)], target)
        ratio = None if reach is None else reach / fast_s
        ratios.append(ratio)
        print(f'claim 2, seed {seed}: SSD-KD reaches Fast\'s final '
              f'{target:.2f} after '
              + ('never (not by its end)' if reach is None else
                 f'{reach:.0f} s of training, {ratio:.2f}x Fast\'s '
                 f'{fast_s:.0f} s'))
    out = dict(claim1=dict(ssd=ssd, fast=fast, holds=holds, paired=paired),
               claim2_ratios=ratios)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--task', default='cls', choices=sorted(ROWS))
    parser.add_argument('--rows', nargs='+',
                        help='default: every row of the task')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--val-points', type=int, default=6,
                        help='validations per data-free run (the curve of '
                        'claim 2)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs in parallel (each with '
                        'OMP_NUM_THREADS=1 when > 1)')
    args = parser.parse_args(argv)
    rows = args.rows or list(ROWS[args.task])
    unknown = [r for r in rows if r not in ROWS[args.task]]
    if unknown:
        parser.error(f'unknown rows {unknown}; --task {args.task} has '
                     f'{list(ROWS[args.task])}')
    if args.val_points < 1:
        parser.error(f'--val-points {args.val_points}: expected >= 1')
    t_config, t_name = TEACHERS[args.task]
    tdir = osp.join(args.work_dir, t_name)
    tckpt = osp.join(tdir, osp.splitext(osp.basename(t_config))[0] + '.pth')
    if not osp.isfile(osp.join(tdir, 'teacher.json')):
        train_teacher(t_config, tdir, tckpt, [])
    with open(osp.join(tdir, 'teacher.json')) as f:
        t_metric = json.load(f)['metrics'][METRIC[args.task]]
    if args.jobs > 1:  # the teacher above trains with every thread
        os.environ['OMP_NUM_THREADS'] = '1'

    jobs = [(r, s) for s in args.seeds for r in rows]
    todo = [(r, s) for r, s in jobs if not osp.isfile(osp.join(
        args.work_dir, f'datafree-{args.task}_{r}_seed{s}', 'metrics.json'))]
    for i, (r, s) in enumerate(todo, 1):
        STAGE_LABELS[osp.join(args.work_dir, f'datafree-{args.task}_{r}_'
                              f'seed{s}')] = f'run {i}/{len(todo)}: {r}, ' \
                                             f'seed {s}'
    start = time.time()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {job: pool.submit(run_one, args.task, job[0], job[1],
                                    args.work_dir, tckpt, args.val_points)
                   for job in jobs}
        records = {job: f.result() for job, f in futures.items()}

    metric = METRIC[args.task]
    print(f'\ndatafree-{args.task}: {metric} on the val split, seeds '
          f'{", ".join(map(str, args.seeds))} (mean ± std), '
          f'{args.jobs} run(s) at a time; {(time.time() - start) / 60:.1f} '
          'min')
    header = (f'{"row":20s} {metric:>14s} {"per seed":>20s} {"images":>7s} '
              f'{"synthesis s":>13s} {"train s":>13s} {"wall s":>13s} '
              f'{"mean w":>13s}')
    print(header)
    print('-' * len(header))
    print(f'{"teacher":20s} {t_metric:14.2f}')
    summary = dict(task=args.task, metric=metric, teacher=t_metric,
                   seeds=args.seeds, jobs=args.jobs, rows={})
    for r in rows:
        recs = [records[(r, s)] for s in args.seeds]
        values = [rec['metric'] for rec in recs]
        images = recs[0].get('synthesised')
        scales = [final_weight_scale(args.task, r, osp.join(
            args.work_dir, f'datafree-{args.task}_{r}_seed{s}'))
            for s in args.seeds] if images is not None else []
        mean_w = fmt([x['mean_w'] for x in scales], 3) if scales else ''
        per_seed = ', '.join(f'{v:.2f}' for v in values)
        print(f'{r:20s} {fmt(values, 2):>14s} {per_seed:>20s} '
              f'{images if images is not None else "real":>7} '
              f'{fmt([rec.get("synthesis_s") for rec in recs], 0):>13s} '
              f'{fmt([rec["train_iter_s"] for rec in recs], 0):>13s} '
              f'{fmt([rec["wall_s"] for rec in recs], 0):>13s} '
              f'{mean_w:>13s}')
        summary['rows'][r] = dict(
            values=values, images=images, weight_scale=scales,
            synthesis_s=[rec.get('synthesis_s') for rec in recs],
            train_iter_s=[rec['train_iter_s'] for rec in recs],
            wall_s=[rec['wall_s'] for rec in recs])
    summary['claims'] = claims(args.task, records, args.seeds, rows)
    out = osp.join(args.work_dir, f'bench_datafree_{args.task}.json')
    with open(out, 'w') as f:
        json.dump(summary, f, indent=2)
    print(f'\nwritten to {out}')


if __name__ == '__main__':
    main()
