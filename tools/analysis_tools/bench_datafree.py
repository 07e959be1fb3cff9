#!/usr/bin/env python
"""Data-free benchmark: SSD-KD against Fast-Datafree and DeepInversion on
the embedded data, with the real-data references and the ablation of
SSD-KD's reading, each row over several seeds (mean ± std), and SSD-KD's
two claims checked.

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
  sampling (uniform draws, unit weights);
- the ablation (``ABLATION``): the importance weights' normalisation
  (``ssd-kd-w-max``: PER's buffer maximum, ``-w-batch-mean``: the drawn
  batch's mean, ``-w-none``: unnormalised, in the priority only), 10x the
  generator's updates (``ssd-kd-x10-updates``: as many rounds of the same
  batch, the budget spread over them; ``-x10-updates-small``: 10x smaller
  rounds, about the budget generated), and a buffer of the budget refilled
  from 10x the images (``-x10-fifo``, ``-x10-lowest``: FIFO or
  lowest-priority eviction).

For each row: the metric of the exported student (``tools/test.py``), the
images the generator made, the images kept (entered in the buffer), the
buffer's capacity, the generator updates (rounds x inner steps), the
synthesis seconds (the distiller's own
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
# The ablation of SSD-KD's reading (rows 'ssd-kd-w-*' and 'ssd-kd-x10-*'):
# each pins every setting it compares, so that it does not move with the
# shipped config's defaults. The base is R0 = ceil(S0 / B0) rounds of B0
# images, all S0 of them kept in a static buffer (ABLATION_BASE: the
# budget and synthesis batch of the embedded configs before the ablation
# chose the shipped defaults); 'x10' rows give the generator 10 R0 rounds,
# with the weights over the batch mean.
ABLATION_BASE = {'cls': dict(budget=320, batch=64),
                 'seg': dict(budget=80, batch=16)}
ABLATION = {
    # weight normalisation, everything else as BASE
    'ssd-kd-w-max': dict(weight_norm='max'),
    'ssd-kd-w-batch-mean': dict(weight_norm='batch_mean'),
    'ssd-kd-w-none': dict(weight_norm='none'),
    # 10x generator updates: rounds of B0 images, S0 of them kept
    'ssd-kd-x10-updates': dict(rounds=10),
    # 10x generator updates with 10x smaller rounds: ~S0 images generated
    'ssd-kd-x10-updates-small': dict(rounds=10, small_batch=True),
    # 10x updates, every image kept in turn (10 S0 generated) in a buffer
    # of S0: FIFO eviction, or the lowest priority first
    'ssd-kd-x10-fifo': dict(rounds=10, budget=10, evict='fifo'),
    'ssd-kd-x10-lowest': dict(rounds=10, budget=10,
                              evict='lowest_priority'),
    # the small rounds with 5/8 of the distillation steps (and the cosine
    # schedule ending with them)
    'ssd-kd-x10-updates-small-short': dict(rounds=10, small_batch=True,
                                           steps=5 / 8),
}


def ablation_options(task, row):
    """The config overrides of an ablation row (see ``ABLATION``)."""
    spec = ABLATION[row]
    budget, batch = (ABLATION_BASE[task][k] for k in ('budget', 'batch'))
    r0 = -(-budget // batch)
    rounds = spec.get('rounds', 1) * r0
    norm = spec.get('weight_norm', 'batch_mean' if 'rounds' in spec
                    else None)
    opts = [f'model.buffer.weight_norm={norm}',
            'model.buffer.sampling=priority',
            f'model.buffer.evict={spec.get("evict", "fifo")}',
            f'model.budget={spec.get("budget", 1) * budget}',
            f'model.buffer_size={budget}',
            'model.synthesis.rounds=' + (str(rounds) if 'rounds' in spec
                                         else 'None'),
            'model.synthesis.batch_size=' + str(
                -(-budget // rounds) if spec.get('small_batch') else batch)]
    if 'steps' in spec:
        iters = round(spec['steps'] * int(config_value(
            SSD[task], 'train_cfg.max_iters')))
        opts += [f'train_cfg.max_iters={iters}',
                 f'param_scheduler.student.0.end={iters}']
    return opts


for _task, _rows in ROWS.items():
    _rows['ssd-kd'] = (SSD[_task], 'datafree', [])
    _rows['ssd-kd-same'] = (SSD[_task], 'datafree', None)  # Fast's budget
    _rows['ssd-kd-no-phi'] = (SSD[_task], 'datafree', NO_PHI)
    _rows['ssd-kd-no-priority'] = (SSD[_task], 'datafree', NO_PRIORITY)
    for _row in ABLATION:
        _rows[_row] = (SSD[_task], 'datafree', ablation_options)
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
    if callable(opts):
        return config, opts(task, row)
    if opts is None:
        fast_budget = config_value(ROWS[task]['fast'][0], 'model.budget')
        opts = [f'model.budget={fast_budget}']
        rounds = option_value(config, [], 'model.synthesis.rounds')
        if rounds is not None:  # as many rounds, batches that make it
            opts.append('model.synthesis.batch_size='
                        f'{-(-int(fast_budget) // int(rounds))}')
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


def option_value(config, opts, key):
    """A dotted key as a run sees it: its ``--cfg-options`` override
    (``key=value``) where it has one, else the config's value."""
    for opt in opts:
        k, v = opt.split('=', 1)
        if k == key:
            return None if v == 'None' else v
    try:
        return config_value(config, key)
    except KeyError:
        return None


def datafree_counters(checkpoint, config=None, opts=()):
    """From a data-free run's checkpoint (and its config and overrides):
    the images kept (inserted in the buffer), the images the generator
    made (rounds x synthesis batch), the buffer's capacity, the generator
    updates (rounds x inner steps) and the distiller's synthesis /
    distillation seconds."""
    import torch
    state = torch.load(checkpoint, map_location='cpu',
                       weights_only=False)['state_dict']
    out = dict(synthesised=int(state['synthesised']),
               synthesis_s=float(state['synthesis_time']),
               distill_s=float(state['distill_time']),
               rounds=int(state['rounds_done']),
               buffer_size=int(state['buffer.images'].shape[0]))
    if config is not None:
        batch = option_value(config, opts, 'model.synthesis.batch_size')
        steps = option_value(config, opts, 'model.synthesis.inner_steps')
        out.update(generated=out['rounds'] * int(batch),
                   updates=out['rounds'] * int(steps))
    return out


def final_weight_scale(task, row, run_dir):
    """The expected importance weight of a drawn buffer item at the end of
    a data-free run, ``sum_x P(x) w(x)`` with its last priorities and beta
    (the factor by which the weights scale the student's loss against
    unit weights: 1 for uniform sampling and for ``weight_norm`` 'batch_mean'
    or 'none'), and the ratio of the largest to the smallest P."""
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
    # 1 where the weights average 1 over a batch or stay out of the loss
    mean_w = 1.0 if buffer.weight_norm in ('batch_mean', 'none') else float(
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
        max_iters = int(option_value(config, opts, 'train_cfg.max_iters'))
        extra.append('train_cfg.val_interval='
                     f'{max(1, max_iters // val_points)}')
    # a cut-off run resumes; its wall time is then unknown
    resume = osp.isfile(osp.join(run_dir, 'last_checkpoint'))
    last, wall = train(config, run_dir, seed, extra, resume=resume)
    record = dict(row=row, seed=seed, config=config, options=opts,
                  wall_s=None if resume else wall)
    if kind == 'datafree':
        record.update(datafree_counters(last, config, opts))
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
    g_f = records[('fast', seeds[0])].get('generated', n_f)
    g_s = records[('ssd-kd', seeds[0])].get('generated', n_s)
    walls = [records[('ssd-kd', s)].get('wall_s') for s in seeds]
    f_walls = [records[('fast', s)].get('wall_s') for s in seeds]
    wall_ratio = None if None in walls + f_walls else \
        statistics.mean(walls) / statistics.mean(f_walls)
    print(f'\nclaim 1: SSD-KD with {n_s} synthetic images (Fast: {n_f}), '
          f'{g_s} generated (Fast: {g_f}), is '
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
    if wall_ratio is not None:
        print(f'wall time: SSD-KD {statistics.mean(walls):.0f} s, Fast '
              f'{statistics.mean(f_walls):.0f} s (mean over the seeds): '
              f'{wall_ratio:.2f}x')
    out = dict(claim1=dict(ssd=ssd, fast=fast, holds=holds, paired=paired),
               claim2_ratios=ratios, wall_ratio=wall_ratio)
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
    header = (f'{"row":26s} {metric:>14s} {"per seed":>20s} '
              f'{"generated":>9s} {"kept":>6s} {"buffer":>6s} '
              f'{"updates":>7s} {"synthesis s":>13s} {"train s":>13s} '
              f'{"wall s":>13s} {"mean w":>13s}')
    print(header)
    print('-' * len(header))
    print(f'{"teacher":26s} {t_metric:14.2f}')
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
        counts = [recs[0].get(k, '') for k in ('generated', 'buffer_size',
                                               'updates')]
        print(f'{r:26s} {fmt(values, 2):>14s} {per_seed:>20s} '
              f'{counts[0] if images is not None else "real":>9} '
              f'{images if images is not None else "":>6} '
              f'{counts[1] if images is not None else "":>6} '
              f'{counts[2] if images is not None else "":>7} '
              f'{fmt([rec.get("synthesis_s") for rec in recs], 0):>13s} '
              f'{fmt([rec["train_iter_s"] for rec in recs], 0):>13s} '
              f'{fmt([rec["wall_s"] for rec in recs], 0):>13s} '
              f'{mean_w:>13s}')
        summary['rows'][r] = dict(
            values=values, images=images, weight_scale=scales,
            generated=recs[0].get('generated'),
            buffer_size=recs[0].get('buffer_size'),
            updates=recs[0].get('updates'),
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
