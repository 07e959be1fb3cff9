#!/usr/bin/env python
"""The teacher/student report (the project's seed note 004): for each model
(teachers, baseline student, distilled students) its parameters, accuracy
(every numeric metric of its evaluator, e.g. top-1/top-5 or mAP), training
time and inference time per image, printed as a table and written as JSON
and as a plot image.

A model is ``--model NAME CONFIG CHECKPOINT``; a distillation config with a
distiller checkpoint reports its student (exported first). The training
time is read from the ``train_s`` that
``tools/analysis_tools/bench_quality.py`` / ``tools/misc/run_demo.py`` leave
in ``metrics.json`` / ``teacher.json`` next to the checkpoint (or one folder
up), or given as ``--train-time NAME SECONDS``; otherwise it is left empty.
Inference time: median seconds per image of ``test_step`` at batch size 1 on
the first 50 validation images, after 3 warm-up images, on this machine's
CPU threads.

Example (after
``python tools/analysis_tools/bench_quality.py --task cls --seeds 0``):
    python tools/analysis_tools/kd_report.py \\
      --model teacher-cnn configs/cls/resnet18-base32_10e_toycls.py \\
              work_dirs/demo/cls_teacher_cnn/resnet18-base32_10e_toycls.pth \\
      --model student configs/cls/vit-tiny-p4_10e_toycls.py \\
              work_dirs/demo/cls_student_seed0/epoch_10.pth \\
      --model deit-hard-1 \\
              work_dirs/demo/cls_deit-hard-1_seed0/student_exported.py \\
              work_dirs/demo/cls_deit-hard-1_seed0/student_exported.pth \\
      --out work_dirs/kd_report
"""
import argparse
import json
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'misc'))  # run_demo


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', nargs=3, action='append', required=True,
                        metavar=('NAME', 'CONFIG', 'CHECKPOINT'))
    parser.add_argument('--train-time', nargs=2, action='append',
                        default=[], metavar=('NAME', 'SECONDS'))
    parser.add_argument('--images', type=int, default=50,
                        help='validation images timed (default 50)')
    parser.add_argument('--out', default='work_dirs/kd_report',
                        help='folder for report.json and report.png')
    args = parser.parse_args(argv)
    names = [m[0] for m in args.model]
    if len(set(names)) != len(names):
        parser.error(f'--model names must differ; got {names}')
    for name, config, ckpt in args.model:
        for what, path in (('config', config), ('checkpoint', ckpt)):
            if not osp.isfile(path):
                parser.error(f'--model {name}: {what} {path!r} does not '
                             'exist')
    times = {}
    for name, secs in args.train_time:
        if name not in names:
            parser.error(f'--train-time {name}: no --model of that name; '
                         f'they are {names}')
        try:
            times[name] = float(secs)
        except ValueError:
            parser.error(f'--train-time {name} {secs!r}: expected seconds')
    args.train_time = times
    return args


def recorded_train_time(checkpoint):
    """``train_s`` from the JSON a benchmark left beside the checkpoint."""
    here = osp.dirname(osp.abspath(checkpoint))
    for folder in (here, osp.dirname(here)):
        for name in ('metrics.json', 'teacher.json'):
            path = osp.join(folder, name)
            if osp.isfile(path):
                with open(path) as f:
                    value = json.load(f).get('train_s')
                if value is not None:
                    return float(value)
    return None


def plain_model(name, config, checkpoint, out):
    """(config, checkpoint) of a plain model: a distiller's student is
    exported first."""
    from kdtools.models.distillers.export import export_student
    from kdtools.utils import load_config
    cfg = load_config(config)
    if str(cfg.model.get('type', '')).split('.')[-1] != 'Distiller':
        return config, checkpoint
    plain = osp.join(out, name, 'student.pth')
    # the report's own export, redone at each report
    return export_student(config, checkpoint, plain, force=True), plain


def plot(rows, metric_keys, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    panels = [('params_M', 'parameters (M)')] + \
        [(k, k) for k in metric_keys] + \
        [('train_min', 'training time (min)'),
         ('infer_ms', 'inference (ms / image)')]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4))
    names = [r['name'] for r in rows]
    for ax, (key, title) in zip(axes, panels):
        values = [r.get(key) if r.get(key) is not None else 0 for r in rows]
        ax.bar(range(len(rows)), values, color='tab:blue')
        ax.set_xticks(range(len(rows)), names, rotation=45, ha='right',
                      fontsize=8)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    from run_demo import evaluate, params_and_speed

    from kdtools.utils import register_all_modules
    register_all_modules()
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for name, config, checkpoint in args.model:
        mdir = osp.join(args.out, name)
        os.makedirs(mdir, exist_ok=True)
        train_s = args.train_time.get(name, recorded_train_time(checkpoint))
        config, checkpoint = plain_model(name, config, checkpoint, args.out)
        metrics = evaluate(config, checkpoint, mdir, [])
        params, secs = params_and_speed(config, checkpoint,
                                        n_images=args.images)
        rows.append(dict(
            name=name, config=config, checkpoint=checkpoint,
            params_M=params / 1e6,
            train_min=None if train_s is None else train_s / 60,
            infer_ms=secs * 1000,
            metrics={k: v for k, v in metrics.items()
                     if isinstance(v, (int, float))}))
    keys = sorted({k for r in rows for k in r['metrics']})
    for r in rows:
        r.update({k: r['metrics'].get(k) for k in keys})

    header = f'{"model":20s} {"params (M)":>10s}' + ''.join(
        f' {k:>16s}' for k in keys) + f' {"train (min)":>11s} ' \
        f'{"ms / image":>10s}'
    print(header)
    print('-' * len(header))
    for r in rows:
        train = '' if r['train_min'] is None else f'{r["train_min"]:.1f}'
        print(f'{r["name"]:20s} {r["params_M"]:10.2f}' + ''.join(
            f' {r[k] if r[k] is not None else float("nan"):16.2f}'
            for k in keys) + f' {train:>11s} {r["infer_ms"]:10.1f}')
    with open(osp.join(args.out, 'report.json'), 'w') as f:
        json.dump(dict(models=rows, images_timed=args.images), f, indent=2)
    plot(rows, keys, osp.join(args.out, 'report.png'))
    print(f'\nwritten to {osp.join(args.out, "report.json")} and '
          f'{osp.join(args.out, "report.png")}')
    return rows


if __name__ == '__main__':
    main()
