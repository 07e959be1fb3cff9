#!/usr/bin/env python
"""The main job: distillation on the embedded detection data.

Trains (or reuses) the teacher (GFL, ImageNet MobileNetV2), a baseline
student (GFL, ResNet-18 at 1/4 width, trained alone) and a feature-imitation
student (the same, distilled from the teacher on its FPN levels), all with
tools/train.py and the same schedule; exports the distilled student as a plain
mmdet checkpoint; evaluates all three with tools/test.py (mmdet CocoMetric)
and prints one table: parameters, FLOPs and activations at the test input
size (mmengine's counter, tools/analysis_tools/get_flops.py), mAP, training
time, inference time per image.

With several --seeds the students are trained once per seed (the teacher
once) and the table shows mean and spread (the README's quality figures).

Examples:
    python tools/misc/run_demo.py                      # make demo
    python tools/misc/run_demo.py --seeds 0 1 2        # make bench-quality
"""
import argparse
import json
import os
import os.path as osp
import re
import statistics
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

TEACHER = 'configs/det/gfl_mobilenetv2_fpn_12e_toydet.py'
STUDENT = 'configs/det/gfl_r18-base16_fpn_12e_toydet.py'
DISTILL = 'configs/det/hint/hint_fpn_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py'


#: a progress label per training work dir ("stage 2/3: student seed 0"),
#: set by the scripts that run several trainings
STAGE_LABELS = {}

# mmengine's training log lines: "Epoch(train)  [3][20/25]  ... eta: 0:01:02
# ... loss: 1.2345 ..." (by epoch) or "Iter(train) [ 40/2000] ..." (by
# iteration), and the metrics line after each validation
_TRAIN_LINE = re.compile(
    r'(Epoch|Iter)\(train\)\s*(?:\[\s*(\d+)\])?\s*\[\s*(\d+)/(\d+)\]')
_ETA = re.compile(r'\beta: (\S+)')
_LOSS = re.compile(r'\sloss: (\S+)')
_VAL_LINE = re.compile(r'(?:Epoch|Iter)\(val\)\s*(?:\[\s*(\d+)\])?')
_METRIC = re.compile(r'\s(coco/bbox_mAP|mIoU|accuracy/top1): (\S+)')


class Progress:
    """Turns a training run's log lines into short progress lines: one per
    epoch (per tenth of the iterations for iteration-based schedules) and
    at least one every ``every_s`` seconds, plus each validation's metric.
    """

    def __init__(self, label, max_epochs=None, every_s=30.0):
        self.label, self.max_epochs, self.every_s = label, max_epochs, every_s
        self.last_key, self.last_time = None, None

    def feed(self, line, now=None):
        """The progress line ``line`` calls for, or None."""
        now = time.time() if now is None else now
        m = _TRAIN_LINE.search(line)
        if m:
            by_epoch = m.group(1) == 'Epoch'
            i, n = int(m.group(3)), int(m.group(4))
            if by_epoch:
                epoch = int(m.group(2))
                of = f'/{self.max_epochs}' if self.max_epochs else ''
                where = f'epoch {epoch}{of} (iter {i}/{n})'
                key = epoch
            else:
                where = f'iter {i}/{n}'
                key = i * 10 // max(n, 1)
            due = self.last_time is None or \
                now - self.last_time >= self.every_s
            if key == self.last_key and not due:
                return None
            self.last_key, self.last_time = key, now
            eta, loss = _ETA.search(line), _LOSS.search(line)
            return (f'  [{self.label}] {where}'
                    + (f', eta {eta.group(1)}' if eta else '')
                    + (f', loss {loss.group(1)}' if loss else ''))
        m = _VAL_LINE.search(line)
        metric = _METRIC.search(line) if m else None
        if metric:
            at = f' after epoch {m.group(1)}' if m.group(1) else ''
            return (f'  [{self.label}] val{at}: {metric.group(1)} '
                    f'{metric.group(2)}')
        return None


def max_epochs_of(config, opts=()):
    """``train_cfg.max_epochs`` of a config with ``--cfg-options``
    ``opts``; None when it cannot be told."""
    for opt in reversed(list(opts)):
        if opt.startswith('train_cfg.max_epochs='):
            return opt.split('=', 1)[1]
    try:
        from mmengine.config import Config
        return Config.fromfile(osp.join(ROOT, config)).get(
            'train_cfg', {}).get('max_epochs')
    except Exception:  # noqa: BLE001 - the progress shows "epoch N" alone
        return None


def sh(args, log=None, progress=None):
    """Run a tool with this interpreter from the repository root; with
    ``log``, its output goes to that file and ``progress`` (a
    :class:`Progress`) prints what the run is at, line by line."""
    cmd = [sys.executable] + args
    print('$', ' '.join(args), flush=True)
    if log is None:
        subprocess.run(cmd, cwd=ROOT, check=True)
        return
    with open(log, 'w') as f:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                errors='replace')
        for line in proc.stdout:
            f.write(line)
            note = progress.feed(line) if progress is not None else None
            if note:
                print(note, flush=True)
        proc.wait()
    if proc.returncode != 0:
        with open(log) as f:
            tail = f.read()[-3000:]
        raise SystemExit(f'failed ({proc.returncode}): {" ".join(args)}\n'
                         f'{tail}\n(full log: {log})')


def data_options(data) -> dict:
    """Config overrides pointing the detection configs at ``data``."""
    root = osp.join(data, 'det') + '/'
    if osp.normpath(root) == osp.normpath('data/toy/det'):
        return {}
    ann = root + 'annotations/instances_val.json'
    return {'train_dataloader.dataset.data_root': root,
            'val_dataloader.dataset.data_root': root,
            'test_dataloader.dataset.data_root': root,
            'val_evaluator.ann_file': ann, 'test_evaluator.ann_file': ann}


def train(config, work_dir, seed, opts, resume=False):
    """tools/train.py (with ``--resume`` from ``work_dir``'s last checkpoint
    when ``resume``); returns (last checkpoint, wall seconds)."""
    os.makedirs(work_dir, exist_ok=True)
    label = STAGE_LABELS.get(work_dir) or '/'.join(
        osp.normpath(work_dir).split(os.sep)[-2:])
    progress = Progress(label, max_epochs_of(config, opts))
    start = time.time()
    sh(['tools/train.py', config, '--work-dir', work_dir] +
       (['--resume'] if resume else []) +
       ['--cfg-options', f'randomness.seed={seed}'] + opts,
       log=osp.join(work_dir, 'train_stdout.log'), progress=progress)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip(), time.time() - start


def train_teacher(config, tdir, tckpt, opts):
    """Train a teacher (seed 0) in ``tdir/run``, keep its weights as the
    plain checkpoint ``tckpt`` and its metrics in ``tdir/teacher.json``."""
    last, secs = train(config, osp.join(tdir, 'run'), 0, opts)
    import torch
    ckpt = torch.load(last, map_location='cpu', weights_only=False)
    torch.save(dict(state_dict=ckpt['state_dict'],
                    meta=dict(dataset_meta=ckpt['meta'].get(
                        'dataset_meta'))), tckpt)
    metrics = evaluate(config, tckpt, tdir, opts)
    with open(osp.join(tdir, 'teacher.json'), 'w') as f:
        json.dump(dict(train_s=secs, metrics=metrics), f)


def evaluate(config, checkpoint, work_dir, opts):
    out = osp.join(work_dir, 'metrics.json')
    sh(['tools/test.py', config, checkpoint, '--json-out', out, '--work-dir',
        osp.join(work_dir, 'test')] + (['--cfg-options'] + opts
                                       if opts else []),
       log=osp.join(work_dir, 'test_stdout.log'))
    with open(out) as f:
        return json.load(f)['metrics']


def params_and_speed(config, checkpoint, options=None, n_images=50):
    """Parameters, and median seconds per image of the plain model's
    test_step at batch size 1 on the first val images (CPU threads as
    configured by torch); ``options``: config overrides."""
    import torch
    from mmengine.registry import MODELS
    from mmengine.runner import Runner, load_checkpoint

    from kdtools.utils import load_config, register_all_modules
    register_all_modules()
    cfg = load_config(config, options)
    cfg.model.pop('init_cfg', None)
    if 'backbone' in cfg.model:
        cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                    logger='silent')
    model.eval()
    loader_cfg = dict(cfg.val_dataloader)
    loader_cfg.update(batch_size=1, num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg)
    times = []
    with torch.no_grad():
        for i, batch in enumerate(loader):
            if i >= n_images + 3:
                break
            start = time.perf_counter()
            model.test_step(batch)
            if i >= 3:  # warm-up
                times.append(time.perf_counter() - start)
    return (sum(p.numel() for p in model.parameters()),
            statistics.median(times))


def flops_of(config, options=None):
    """(FLOPs, activations) of the model's deployed graph (backbone + neck
    + head raw outputs) on the first test image, counted by mmengine's
    analyzer as ``tools/analysis_tools/get_flops.py`` counts them."""
    sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
    from get_flops import count

    from kdtools.utils import register_all_modules
    register_all_modules()
    res = count(config, num_images=1, cfg_options=options)
    return res['flops'], res['activations']


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Train teacher, baseline student and feature-imitation '
        'student on the embedded detection data; print parameters, mAP, '
        'training time and inference time per image.')
    parser.add_argument('--data', default='data/toy')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--retrain-teacher', action='store_true')
    args = parser.parse_args(argv)
    opts = [f'{k}={v}' for k, v in data_options(args.data).items()]

    sh(['tools/dataset_converters/make_toy_data.py', '--out', args.data,
        '--if-missing'])
    sh(['tools/model_converters/convert_mobilenetv2.py', '--if-missing'])

    # the teacher: trained once, reused by later runs
    tdir = osp.join(args.work_dir, 'teacher')
    tckpt = osp.join(tdir, osp.splitext(osp.basename(TEACHER))[0] + '.pth')
    tinfo_path = osp.join(tdir, 'teacher.json')
    retrain = args.retrain_teacher or not osp.isfile(tinfo_path)
    # progress labels: "stage i/N: ..." for each training run
    stages = ([osp.join(tdir, 'run')] if retrain else []) + [
        osp.join(args.work_dir, f'{kind}_seed{seed}')
        for seed in args.seeds for kind in ('student', 'hint')]
    for i, run_dir in enumerate(stages, 1):
        name = ('teacher' if run_dir.endswith(osp.join('teacher', 'run'))
                else osp.basename(run_dir).replace('_seed', ', seed ')
                .replace('hint', 'student + hint KD'))
        STAGE_LABELS[run_dir] = f'stage {i}/{len(stages)}: {name}'
    if retrain:
        train_teacher(TEACHER, tdir, tckpt, opts)
    else:
        print(f'reusing the teacher in {tckpt}')
    with open(tinfo_path) as f:
        tinfo = json.load(f)

    rows = {'teacher': [], 'student': [], 'student + hint KD': []}
    rows['teacher'].append(dict(mAP=tinfo['metrics']['coco/bbox_mAP'],
                                train_s=tinfo['train_s']))
    speed = {'teacher': params_and_speed(TEACHER, tckpt,
                                          data_options(args.data))}
    flops = {'teacher': flops_of(TEACHER, data_options(args.data))}
    flops['student'] = flops_of(STUDENT, data_options(args.data))
    flops['student + hint KD'] = flops_of(DISTILL, data_options(args.data))
    for seed in args.seeds:
        sdir = osp.join(args.work_dir, f'student_seed{seed}')
        last, secs = train(STUDENT, sdir, seed, opts)
        m = evaluate(STUDENT, last, sdir, opts)
        rows['student'].append(dict(mAP=m['coco/bbox_mAP'], train_s=secs))
        speed.setdefault('student', params_and_speed(
            STUDENT, last, data_options(args.data)))

        ddir = osp.join(args.work_dir, f'hint_seed{seed}')
        last, secs = train(DISTILL, ddir, seed,
                           opts + [f'model.teacher.checkpoint={tckpt}'])
        plain = osp.join(ddir, 'student_exported.pth')
        # the run's own export: replaced when the demo runs again
        sh(['tools/model_converters/export_student.py', DISTILL, last, plain,
            '--force'])
        plain_cfg = osp.splitext(plain)[0] + '.py'
        m = evaluate(plain_cfg, plain, ddir, opts)
        rows['student + hint KD'].append(dict(mAP=m['coco/bbox_mAP'],
                                              train_s=secs))
        speed.setdefault('student + hint KD',
                         params_and_speed(plain_cfg, plain,
                                          data_options(args.data)))

    def fmt(values, scale=1.0, digits=3):
        values = [v * scale for v in values]
        if len(values) == 1:
            return f'{values[0]:.{digits}f}'
        return (f'{statistics.mean(values):.{digits}f} '
                f'± {statistics.stdev(values):.{digits}f}')

    seeds = ', '.join(map(str, args.seeds))
    print(f'\nembedded detection set ({args.data}/det), 12 epochs each; '
          f'students: seeds {seeds} (mean ± std over seeds when several); '
          'teacher: seed 0')
    header = (f'{"model":20s} {"params":>8s} {"GFLOPs":>7s} '
              f'{"acts":>7s} {"bbox mAP":>15s} '
              f'{"train (min)":>13s} {"infer (ms/img)":>15s}')
    print(header)
    print('-' * len(header))
    summary = {}
    for name, runs in rows.items():
        n_params, sec_per_img = speed[name]
        maps = [r['mAP'] for r in runs]
        n_flops, n_acts = flops[name]
        print(f'{name:20s} {n_params / 1e6:7.2f}M {n_flops / 1e9:7.3f} '
              f'{n_acts / 1e6:6.2f}M {fmt(maps):>15s} '
              f'{fmt([r["train_s"] for r in runs], 1 / 60, 1):>13s} '
              f'{sec_per_img * 1000:15.1f}')
        summary[name] = dict(params=n_params, flops=n_flops,
                             activations=n_acts, mAP=maps,
                             train_s=[r['train_s'] for r in runs],
                             infer_s_per_img=sec_per_img)
    t = statistics.mean(summary['teacher']['mAP'])
    s = statistics.mean(summary['student']['mAP'])
    d = statistics.mean(summary['student + hint KD']['mAP'])
    gap = (d - s) / (t - s) if t != s else float('nan')
    print(f'\nhint KD vs baseline student: {d - s:+.3f} mAP '
          f'({gap * 100:.0f}% of the teacher-student gap closed)')
    summary['seeds'] = args.seeds
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(summary, f, indent=2)


if __name__ == '__main__':
    main()
