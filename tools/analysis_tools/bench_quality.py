#!/usr/bin/env python
"""Quality benchmark: several distillation methods on the embedded data,
each over several seeds, in one table (mean ± std of the seeds) with the
fraction of the teacher-student gap each closes and, seed by seed against
the baseline trained with the same seed, the mean difference with its 95%
Student-t confidence interval and the number of seeds the row is above the
baseline (and kdtools' LD against mmdet's LD the same way).

Every run is `tools/train.py <config>` with `randomness.seed=<seed>`; a
distilled student is exported with `tools/model_converters/export_student.py`
and the plain student is evaluated with `tools/test.py` (mmdet's
CocoMetric). Runs whose metrics already exist in the work dir are reused
(delete the run's folder to redo it), so an interrupted benchmark resumes.

Examples:
    # the README's detection table: 9 rows, 10 seeds
    python tools/analysis_tools/bench_quality.py --task det \\
        --seeds 0 1 2 3 4 7 8 9 10 11 --jobs 2
    python tools/analysis_tools/bench_quality.py --task det \\
        --methods student ld ld-vlr
    # the same rows with 36-epoch students (runs in work_dirs/demo_36e)
    python tools/analysis_tools/bench_quality.py --task det --epochs 36 \\
        --seeds 0 1 2 3 4 --methods student ld ld-vlr mmdet-ld chen17-clsreg \\
        --jobs 2
    # two-stage (Faster R-CNN) Chen et al. 2017
    python tools/analysis_tools/bench_quality.py --task det-two-stage --jobs 2
    # LD with a teacher that has not seen the students' training images
    python tools/dataset_converters/make_toy_data.py --out data/toy-seed1 \\
        --seed 1 --tasks det
    python tools/analysis_tools/bench_quality.py --task det --epochs 36 \\
        --seeds 0 1 2 3 4 --methods student ld ld-vlr mmdet-ld \\
        --teacher-data data/toy-seed1
    # the same runs scored on 1000 val images (the first 100 are data/toy's)
    python tools/dataset_converters/make_toy_data.py --out data/toy-large \\
        --size large --tasks det
    python tools/analysis_tools/bench_quality.py --task det --epochs 36 \\
        --seeds 0 1 2 3 4 --methods student ld-vlr --eval-data data/toy-large
    # segmentation: structured KD (cumulative rows) and CWD
    python tools/analysis_tools/bench_quality.py --task seg --jobs 2
    # classification: KD, DeiT soft/hard with 1 and 2 teachers, FSP
    python tools/analysis_tools/bench_quality.py --task cls --jobs 2
"""
import argparse
import json
import math
import os
import os.path as osp
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'misc'))  # run_demo
from run_demo import (STAGE_LABELS, TEACHER, data_options,  # noqa: E402
                      evaluate, sh, train, train_teacher)

TEACHERS = {
    'det': TEACHER,
    'det-two-stage': 'configs/det/faster-rcnn_mobilenetv2_fpn_12e_toydet.py',
    'seg': 'configs/seg/pspnet_mobilenetv2-d8_8k_toyseg.py',
    # several teachers: name -> config
    'cls': {'cnn': 'configs/cls/resnet18-base32_10e_toycls.py',
            'vit': 'configs/cls/vit-small-p4_10e_toycls.py',
            'r32': 'configs/cls/resnet32-cifar_10e_toycls.py'},
}
SEG = 'configs/seg/'

DET = 'configs/det/'
METHODS = {
    'det': {
        'student': (DET + 'gfl_r18-base16_fpn_12e_toydet.py', False),
        'hint': (DET + 'hint/hint_fpn_gfl-mbv2_to_gfl-r18-base16_12e_'
                 'toydet.py', True),
        'chen17-clsreg': (DET + 'chen17/chen17-clsreg_gfl-mbv2_to_gfl-r18-'
                          'base16_12e_toydet.py', True),
        'chen17-full': (DET + 'chen17/chen17-full_gfl-mbv2_to_gfl-r18-'
                        'base16_12e_toydet.py', True),
        'ld': (DET + 'ld/ld_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py', True),
        'ld-vlr': (DET + 'ld/ld-vlr_gfl-mbv2_to_gfl-r18-base16_12e_'
                   'toydet.py', True),
        'ld-vlr-kd': (DET + 'ld/ld-vlr-kd_gfl-mbv2_to_gfl-r18-base16_12e_'
                      'toydet.py', True),
        'mmdet-ld': (DET + 'ld/mmdet-ld_gfl-mbv2_to_gfl-r18-base16_12e_'
                     'toydet.py', False),
        'crosskd': (DET + 'crosskd/crosskd_gfl-mbv2_to_gfl-r18-base16_12e_'
                    'toydet.py', True),
        'pkd': (DET + 'pkd/pkd_fpn_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py',
                True),
        'crosskd-pkd': (DET + 'crosskd/crosskd-pkd_gfl-mbv2_to_gfl-r18-'
                        'base16_12e_toydet.py', True),
    },
    'det-two-stage': {
        'student': (DET + 'faster-rcnn_r18-base16_fpn_12e_toydet.py', False),
        'chen17-full': (DET + 'chen17/chen17_faster-rcnn-mbv2_to_faster-'
                        'rcnn-r18-base16_12e_toydet.py', True),
    },
}
METHODS['seg'] = {
    'student': (SEG + 'fcn_r18-base16-d8_2k_toyseg.py', False),
    'skd-pi': (SEG + 'skd/skd-pi_pspnet-mbv2-d8_to_fcn-r18-base16-d8_2k_'
               'toyseg.py', True),
    'skd-pi-pa': (SEG + 'skd/skd-pi-pa_pspnet-mbv2-d8_to_fcn-r18-base16-d8_'
                  '2k_toyseg.py', True),
    'skd-pi-pa-ho': (SEG + 'skd/skd-pi-pa-ho_pspnet-mbv2-d8_to_fcn-r18-'
                     'base16-d8_2k_toyseg.py', True),
    'cwd': (SEG + 'cwd/cwd_pspnet-mbv2-d8_to_fcn-r18-base16-d8_2k_toyseg.py',
            True),
}
CLS = 'configs/cls/'
DEIT = CLS + 'deit/deit-{}_to_deit-tiny-p4_10e_toycls.py'
CNN = {'model.teacher': 'cnn'}
CNN_VIT = {'model.teachers.cnn': 'cnn', 'model.teachers.vit': 'vit'}
# (config, distilled, {config key of a teacher: teacher name})
METHODS['cls'] = {
    'student': (CLS + 'vit-tiny-p4_10e_toycls.py', False),
    'kd': (CLS + 'kd/kd_resnet18-base32_to_vit-tiny-p4_10e_toycls.py', True,
           CNN),
    'deit-soft-1': (DEIT.format('soft_resnet18-base32'), True,
                    {'model.teachers.cnn': 'cnn'}),
    'deit-hard-1': (DEIT.format('hard_resnet18-base32'), True,
                    {'model.teachers.cnn': 'cnn'}),
    'deit-soft-2': (DEIT.format('soft_resnet18-base32-and-vit-small-p4'),
                    True, CNN_VIT),
    'deit-hard-2': (DEIT.format('hard_resnet18-base32-and-vit-small-p4'),
                    True, CNN_VIT),
    'student-r14': (CLS + 'resnet14-cifar_10e_toycls.py', False),
    'fsp': (CLS + 'fsp/fsp_resnet32-cifar_to_resnet14-cifar_10e_toycls.py',
            True, {'model.teacher': 'r32'}),
}
# the gap a method closes: (its baseline method, its teacher); default
# ('student', the task's first teacher)
GAP_REF = {'cls': {'fsp': ('student-r14', 'r32'),
                   'student-r14': ('student-r14', 'r32')}}
# rows compared seed by seed with a peer's implementation of the method
PEERS = {'det': {'ld': 'mmdet-ld', 'ld-vlr': 'mmdet-ld'}}
METRIC = {'det': 'coco/bbox_mAP', 'det-two-stage': 'coco/bbox_mAP',
          'seg': 'mIoU', 'cls': 'accuracy/top1'}


def paired_difference(values, base_values, confidence=0.95):
    """Seed-by-seed comparison of a row with its baseline (same seeds, same
    order): the mean of the differences ``values - base_values``, the
    half-width of its Student-t confidence interval (``nan`` for one seed)
    and in how many seeds the row is above the baseline."""
    if len(values) != len(base_values) or not values:
        raise ValueError(f'paired_difference: {len(values)} values against '
                         f'{len(base_values)} baseline values; expected the '
                         'same non-zero number (one per seed)')
    diffs = [v - b for v, b in zip(values, base_values)]
    n = len(diffs)
    half = float('nan')
    if n > 1:
        from scipy.stats import t
        half = (t.ppf(0.5 + confidence / 2, n - 1) *
                statistics.stdev(diffs) / math.sqrt(n))
    return dict(mean=statistics.mean(diffs), ci=half,
                wins=sum(d > 0 for d in diffs), n=n)


def format_paired(p):
    return f'{p["mean"]:+.3f} ± {p["ci"]:.3f} ({p["wins"]}/{p["n"]})'


def uses_teacher(task, method):
    """Whether a row's training reads a teacher (kdtools' distillers and
    the peers' own distillation detectors)."""
    return METHODS[task][method][1] or method.startswith('mmdet-')


def data_tag(folder):
    """The name runs and results carry for an embedded set's folder."""
    return osp.basename(osp.normpath(folder))


def evaluate_on(config, checkpoint, out_dir, eval_data, opts=()):
    """The plain model's metrics on ``eval_data``'s val split (with the
    config overrides ``opts``), evaluated once into ``out_dir/metrics.json``
    and reused after."""
    out = osp.join(out_dir, 'metrics.json')
    if not osp.isfile(out):
        os.makedirs(out_dir, exist_ok=True)  # evaluate logs into it
        evaluate(config, checkpoint, out_dir,
                 [f'{k}={v}' for k, v in data_options(eval_data).items()] +
                 list(opts))
    with open(out) as f:
        return json.load(f)['metrics']


def run_dir_of(task, method, seed, work_dir, teacher_tag=None):
    """The folder of one row's seed."""
    prefix = '' if task == 'det' else f'{task}_'
    # runs distilled from a teacher trained on other data are kept apart
    run_name = (f'{method}_teacher-{teacher_tag}'
                if teacher_tag and uses_teacher(task, method) else method)
    return osp.join(work_dir, f'{prefix}{run_name}_seed{seed}')


def run_one(task, method, seed, work_dir, opts, teacher_ckpts,
            teacher_tag=None, eval_data=None):
    """Train, export and evaluate one row's seed (or reuse the run); its
    metric (on ``eval_data``'s val split when given) and training seconds.
    """
    config, distilled, *which = METHODS[task][method]
    run_dir = run_dir_of(task, method, seed, work_dir, teacher_tag)
    done = osp.join(run_dir, 'metrics.json')
    plain = osp.join(run_dir, 'student_exported.pth')
    first = next(iter(teacher_ckpts.values()), None)
    # a peer's distillation detector builds (and loads) its teacher even
    # to predict, so its test runs are told where the teacher is too
    peer = [f'model.teacher_ckpt={first}'] if method.startswith(
        'mmdet-') else []
    if osp.isfile(done):
        with open(done) as f:
            result = json.load(f)
        print(f'reusing {run_dir}', flush=True)
    else:
        extra = list(peer)
        if distilled:
            keys = which[0] if which else {'model.teacher': None}
            extra += [f'{key}.checkpoint={teacher_ckpts.get(name, first)}'
                      for key, name in keys.items()]
        # a run that was cut off (or trained but not evaluated) resumes
        # from its last checkpoint; its training time is then unknown
        resume = osp.isfile(osp.join(run_dir, 'last_checkpoint'))
        last, secs = train(config, run_dir, seed, opts + extra,
                           resume=resume)
        if distilled:
            # the run's own export (a cut-off run redoes it)
            sh(['tools/model_converters/export_student.py', config, last,
                plain, '--force'])
            last = plain
        evaluate(osp.splitext(plain)[0] + '.py' if distilled else config,
                 last, run_dir, opts + peer)
        with open(done) as f:
            result = json.load(f)
        result['train_s'] = None if resume else secs
        with open(done, 'w') as f:
            json.dump(result, f)
    metrics = result['metrics']
    if eval_data is not None:
        if distilled:
            config, last = osp.splitext(plain)[0] + '.py', plain
        else:
            with open(osp.join(run_dir, 'last_checkpoint')) as f:
                last = f.read().strip()
        metrics = evaluate_on(config, last, osp.join(
            run_dir, f'val-{data_tag(eval_data)}'), eval_data, peer)
    return metrics[METRIC[task]], result.get('train_s')


def val_curve(run_dir):
    """[(epoch, top-1)] of a run, from mmengine's vis_data/scalars.json."""
    import glob
    curve = []
    for path in sorted(glob.glob(osp.join(run_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                if 'accuracy/top1' in row:
                    curve.append((row['step'], row['accuracy/top1']))
    return curve


def fsp_convergence(work_dir, seeds, target):
    """FSP's claim (Yim et al.: faster optimisation): the task-training
    epochs the baseline ResNet-14 and the FSP student (after its FSP stage
    1) need to reach the baseline's final accuracy ``target`` (mean of the
    seeds), per seed."""
    from kdtools.utils import load_config
    fsp_cfg = load_config(METHODS['cls']['fsp'][0])
    stage1 = fsp_cfg.model.loss_schedules.student.start_epoch
    out = {}
    print(f'\nFSP convergence: task-training epochs to reach the baseline\'s '
          f'final top-1 ({target:.2f}); FSP runs also spend {stage1} '
          'epochs in stage 1 (FSP only)')
    for method, prefix, skip in (('student-r14', 'cls_student-r14', 0),
                                 ('fsp', 'cls_fsp', stage1)):
        reached = []
        for seed in seeds:
            curve = val_curve(osp.join(work_dir, f'{prefix}_seed{seed}'))
            hit = [e - skip for e, acc in curve
                   if e > skip and acc >= target]
            reached.append(hit[0] if hit else None)
        out[method] = reached
        print(f'  {method:12s} ' + ', '.join(
            'never' if r is None else f'{r} epochs' for r in reached))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--task', default='det', choices=sorted(METHODS))
    parser.add_argument('--methods', nargs='+',
                        help='default: every method of the task')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--data', default='data/toy')
    parser.add_argument('--work-dir', default='work_dirs/demo',
                        help='the teachers and runs; with --epochs N the '
                        'runs go in <work-dir>_<N>e')
    parser.add_argument('--epochs', type=int,
                        help='train every student row for N epochs instead '
                        "of its config's schedule (train_cfg.max_epochs=N and "
                        'the cosine scheduler ending at N; detection only); '
                        'the teachers keep their own schedule and stay in '
                        '--work-dir')
    parser.add_argument('--teacher-data',
                        help='detection only: train the teacher on this '
                        "embedded set's training split instead of --data's "
                        '(another seed of '
                        'tools/dataset_converters/make_toy_data.py: the '
                        'same generator, other images), so that the teacher '
                        "has not seen the students' training images; it is "
                        "evaluated on --data's val split, and the runs that "
                        'read it are named <method>_teacher-<folder name>')
    parser.add_argument('--eval-data',
                        help="detection only: report every row (and the "
                        "teachers) on this embedded set's val split instead "
                        "of --data's, e.g. the 1000 val images of --size "
                        "large (its first 100 are --data's); each run is "
                        'evaluated once more, into <run>/val-<folder name>')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs in parallel (each with '
                        'OMP_NUM_THREADS=1 when > 1)')
    args = parser.parse_args(argv)
    methods = args.methods or list(METHODS[args.task])
    unknown = [m for m in methods if m not in METHODS[args.task]]
    if unknown:
        parser.error(f'unknown methods {unknown}; --task {args.task} has '
                     f'{list(METHODS[args.task])}')
    if args.epochs is not None and not args.task.startswith('det'):
        parser.error(f'--epochs {args.epochs} is for the detection tasks '
                     f'(cosine epoch schedule); --task {args.task} has its '
                     "configs' own schedule")
    if args.epochs is not None and args.epochs < 1:
        parser.error(f'--epochs {args.epochs}: expected a positive number')
    teacher_tag = None
    if args.teacher_data is not None:
        if not args.task.startswith('det'):
            parser.error(f'--teacher-data {args.teacher_data} is for the '
                         f'detection tasks; --task {args.task} trains its '
                         "teachers on --data")
        ann = osp.join(args.teacher_data, 'det', 'annotations',
                       'instances_train.json')
        if not osp.isfile(ann):
            parser.error(f'--teacher-data {args.teacher_data}: no {ann}; '
                         'expected an embedded set, e.g. python '
                         'tools/dataset_converters/make_toy_data.py --out '
                         f'{args.teacher_data} --seed 1 --tasks det')
        teacher_tag = data_tag(args.teacher_data)
    if args.eval_data is not None:
        if not args.task.startswith('det'):
            parser.error(f'--eval-data {args.eval_data} is for the detection '
                         f'tasks; --task {args.task} evaluates on --data')
        ann = osp.join(args.eval_data, 'det', 'annotations',
                       'instances_val.json')
        if not osp.isfile(ann):
            parser.error(f'--eval-data {args.eval_data}: no {ann}; expected '
                         'an embedded set, e.g. python '
                         'tools/dataset_converters/make_toy_data.py '
                         f'--out {args.eval_data} --size large --tasks det')
    # teachers in the work dir, students in <work dir>_<N>e with --epochs N
    teacher_work_dir = args.work_dir
    if args.epochs is not None:
        args.work_dir = f'{teacher_work_dir}_{args.epochs}e'
    if args.jobs > 1:
        os.environ['OMP_NUM_THREADS'] = '1'
    opts = [f'{k}={v}' for k, v in data_options(args.data).items()]
    # the students' schedule (the teachers train with ``opts`` alone)
    student_opts = opts + ([f'train_cfg.max_epochs={args.epochs}',
                            f'param_scheduler.1.end={args.epochs}']
                           if args.epochs is not None else [])

    # the teachers: trained once (seed 0), reused; the one-stage detection
    # teacher is tools/misc/run_demo.py's
    teachers = TEACHERS[args.task]
    if isinstance(teachers, str):
        teachers = {'teacher': teachers}
    else:  # only the teachers the chosen methods use (and their gap refs)
        first = next(iter(teachers))
        used = {first}
        for m in methods:
            entry = METHODS[args.task][m]
            if len(entry) > 2:
                used |= set(entry[2].values())
            used.add(GAP_REF.get(args.task, {}).get(m, ('', first))[1])
        teachers = {n: c for n, c in teachers.items() if n in used}
    tckpts, tscores = {}, {}
    teacher_opts = opts
    if teacher_tag is not None:
        teacher_opts = opts + ['train_dataloader.dataset.data_root=' +
                               osp.join(args.teacher_data, 'det') + '/']

    def teacher_dir(name):
        tdir = osp.join(teacher_work_dir,
                        'teacher' if args.task == 'det' else
                        f'{args.task}_teacher' if name == 'teacher' else
                        f'{args.task}_teacher_{name}')
        return tdir + (f'_{teacher_tag}' if teacher_tag is not None else '')

    # progress labels ("stage i/N: ...") for the trainings still to run
    jobs = [(m, s) for s in args.seeds for m in methods]
    stages = [(osp.join(teacher_dir(n), 'run'),
               'teacher' if n == 'teacher' else f'teacher {n}')
              for n in teachers
              if not osp.isfile(osp.join(teacher_dir(n), 'teacher.json'))]
    for m, seed in jobs:
        run_dir = run_dir_of(args.task, m, seed, args.work_dir, teacher_tag)
        if not osp.isfile(osp.join(run_dir, 'metrics.json')):
            stages.append((run_dir, f'{m}, seed {seed}'))
    for i, (run_dir, name) in enumerate(stages, 1):
        STAGE_LABELS[run_dir] = f'stage {i}/{len(stages)}: {name}'

    for name, teacher in teachers.items():
        tdir = teacher_dir(name)
        tckpt = osp.join(tdir, osp.splitext(osp.basename(teacher))[0] +
                         '.pth')
        tinfo = osp.join(tdir, 'teacher.json')
        if not osp.isfile(tinfo):
            train_teacher(teacher, tdir, tckpt, teacher_opts)
        with open(tinfo) as f:
            tmetrics = json.load(f)['metrics']
        if args.eval_data is not None:
            tmetrics = evaluate_on(teacher, tckpt, osp.join(
                tdir, f'val-{data_tag(args.eval_data)}'), args.eval_data)
        tscores[name] = tmetrics[METRIC[args.task]]
        tckpts[name] = tckpt

    start = time.time()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {job: pool.submit(run_one, args.task, job[0], job[1],
                                    args.work_dir, student_opts, tckpts,
                                    teacher_tag, args.eval_data)
                   for job in jobs}
        results = {job: f.result() for job, f in futures.items()}

    def mean_std(values):
        if len(values) == 1:
            return values[0], 0.0
        return statistics.mean(values), statistics.stdev(values)

    metric = METRIC[args.task]
    schedule = (f'{args.epochs} epochs' if args.epochs is not None else
                "the configs' schedule")
    trained_on = (f', trained on {args.teacher_data}' if teacher_tag else '')
    val_data = args.eval_data or args.data
    print(f'\n{args.task}: {metric} on {val_data}, {schedule}, seeds '
          f'{", ".join(map(str, args.seeds))} (mean ± std); teacher: seed 0'
          f'{trained_on}; '
          f'{(time.time() - start) / 60:.1f} min')
    header = (f'{"method":16s} {metric:>16s} {"per seed":>24s} {"gap":>6s}'
              f'  {"vs baseline, 95% CI (seeds above)":>34s}')
    print(header)
    print('-' * len(header))
    for name, value in tscores.items():
        label = 'teacher' if len(tscores) == 1 else f'teacher {name}'
        print(f'{label:16s} {value:9.3f}')
    # each method's metric per seed, in the order of args.seeds
    scores = {m: [results[(m, s)][0] for s in args.seeds] for m in methods}
    means = {m: mean_std(scores[m])[0] for m in methods}
    first = next(iter(tscores))
    summary = dict(teacher=tscores[first], teachers=tscores,
                   teacher_data=args.teacher_data, eval_data=args.eval_data,
                   seeds=args.seeds, epochs=args.epochs, methods={})
    for m in methods:
        values = scores[m]
        mean, std = mean_std(values)
        base_m, t_name = GAP_REF.get(args.task, {}).get(m, ('student', first))
        gap, paired = '', None
        if base_m in means and m != base_m:
            base = means[base_m]
            gap = f'{(mean - base) / (tscores[t_name] - base) * 100:5.0f}%'
            paired = paired_difference(values, scores[base_m])
        per_seed = ', '.join(f'{v:.3f}' for v in values)
        vs = format_paired(paired) if paired else ''
        print(f'{m:16s} {mean:9.3f} ± {std:.3f} {per_seed:>24s} {gap:>6s}'
              f'  {vs:>34s}')
        summary['methods'][m] = dict(
            values=values, mean=mean, std=std, vs_baseline=paired,
            train_s=[results[(m, s)][1] for s in args.seeds])
    for m, peer in PEERS.get(args.task, {}).items():
        if m in methods and peer in methods:
            paired = paired_difference(scores[m], scores[peer])
            summary['methods'][m]['vs_' + peer] = paired
            print(f'{m} - {peer}, same seeds: {format_paired(paired)}')
    if args.task == 'cls' and {'student-r14', 'fsp'} <= set(methods):
        summary['fsp_convergence'] = fsp_convergence(
            args.work_dir, args.seeds, summary['methods']['student-r14'][
                'mean'])
    suffix = f'_teacher-{teacher_tag}' if teacher_tag else ''
    if args.eval_data is not None:
        suffix += f'_val-{data_tag(args.eval_data)}'
    out = osp.join(args.work_dir, f'bench_quality_{args.task}{suffix}.json')
    os.makedirs(args.work_dir, exist_ok=True)
    with open(out, 'w') as f:
        json.dump(summary, f, indent=2)
    print(f'\nwritten to {out}')


if __name__ == '__main__':
    main()
