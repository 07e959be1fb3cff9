#!/usr/bin/env python
"""The teacher/student report (the project's seed note 004): for each model
(teachers, baseline student, distilled students) its parameters, FLOPs and
activations at the test input size, accuracy (every numeric metric of its
evaluator, e.g. top-1/top-5 or mAP), training time, inference time per
image, and the latency of its deployed graph in PyTorch and in ONNX
Runtime at batch 1 and 8, printed as a table and written as JSON and as
two plot images (every column; accuracy against latency).

A model is ``--model NAME CONFIG CHECKPOINT``; a distillation config with a
distiller checkpoint reports its student (exported first). The training
time is read from the ``train_s`` that
``tools/analysis_tools/bench_quality.py`` / ``tools/misc/run_demo.py`` leave
in ``metrics.json`` / ``teacher.json`` next to the checkpoint (or one folder
up), or given as ``--train-time NAME SECONDS``; otherwise it is left empty.
Inference time: median seconds per image of ``test_step`` at batch size 1 on
the first 50 validation images, after 3 warm-up images, on this machine's
CPU threads. FLOPs and activations: mmengine's counter on the deployed graph
(``tools/analysis_tools/get_flops.py``) for the first test image. Latency:
the deployed graph (preprocessed tensor in, logits / raw head outputs out;
no decoding or NMS) exported to ONNX (``tools/deployment/pytorch2onnx.py``,
checked against PyTorch on the first 8 test images), then PyTorch eager and
ONNX Runtime on test images at batch 1 and 8, the median of
``--latency-iters`` batches after 3 warm-up batches, per image, on the same
threads (``OMP_NUM_THREADS``).

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
    parser.add_argument('--latency-iters', type=int, default=20,
                        help='batches timed per runtime and batch size '
                        '(median; default 20)')
    parser.add_argument('--no-onnx', action='store_true',
                        help='no ONNX export: PyTorch latency only')
    parser.add_argument('--out', default='work_dirs/kd_report',
                        help='folder for report.json, report.png and '
                        'accuracy_latency.png')
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


def deploy_figures(name, config, checkpoint, mdir, iters=20, onnx=True):
    """FLOPs, activations and latency of the deployed graph (and its ONNX
    export's parity), as the report's columns."""
    from get_flops import count

    from kdtools.deployment import (DeployModel, build_plain_model,
                                    val_batches)
    from kdtools.deployment.runtime import latency
    from kdtools.utils import KDToolsError
    model, cfg = build_plain_model(config, checkpoint)
    res = count(config, num_images=1, model=model, cfg=cfg)
    out = dict(flops_G=res['flops'] / 1e9,
               activations_M=res['activations'] / 1e6,
               input_shape=res['input_shape'])
    onnx_path, note = None, None
    if onnx:
        import pytorch2onnx
        onnx_path = osp.join(mdir, 'model.onnx')
        try:
            info = pytorch2onnx.export(pytorch2onnx.parse_args(
                [config, checkpoint, onnx_path, '--force', '--verify', '8']))
            out['onnx_parity'] = info.get('parity')
            out['onnx_opset'] = info['opset']
        except KDToolsError as e:
            print(f'{name}: no ONNX latency: {e}', flush=True)
            onnx_path, note = None, str(e)
    images = [x for inputs, _ in val_batches(cfg, model, 1, 8)
              for x in inputs]
    out.update(latency(DeployModel(model), images, onnx_path,
                       iters=iters))
    if note:
        out['onnx_error'] = note
    return out


#: the metric the accuracy-latency plot shows, first found
MAIN_METRICS = ('coco/bbox_mAP', 'mIoU', 'accuracy/top1')


def plot_accuracy_latency(rows, metric_keys, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    metric = next((k for k in MAIN_METRICS if k in metric_keys),
                  metric_keys[0] if metric_keys else None)
    if metric is None:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for key, marker, label in (('onnx_b1_ms', 'o', 'ONNX Runtime'),
                               ('torch_b1_ms', 's', 'PyTorch eager')):
        pts = [(r[key], r[metric], r['name']) for r in rows
               if r.get(key) is not None and r.get(metric) is not None]
        if not pts:
            continue
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker=marker,
                   label=label)
        for x, y, name in pts:
            ax.annotate(name, (x, y), fontsize=7, xytext=(3, 3),
                        textcoords='offset points')
    threads = rows[0].get('threads')
    ax.set_xlabel(f'latency, batch 1 (ms / image, {threads} CPU threads)')
    ax.set_ylabel(metric)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return metric


def plot(rows, metric_keys, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    panels = [('params_M', 'parameters (M)'), ('flops_G', 'GFLOPs')] + \
        [(k, k) for k in metric_keys] + \
        [('train_min', 'training time (min)'),
         ('infer_ms', 'inference (ms / image)'),
         ('onnx_b1_ms', 'ONNX Runtime b1 (ms / image)')]
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
    sys.path.insert(0, osp.join(ROOT, 'tools', 'deployment'))
    sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
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
        row = dict(
            name=name, config=config, checkpoint=checkpoint,
            params_M=params / 1e6,
            train_min=None if train_s is None else train_s / 60,
            infer_ms=secs * 1000,
            metrics={k: v for k, v in metrics.items()
                     if isinstance(v, (int, float))})
        row.update(deploy_figures(name, config, checkpoint, mdir,
                                  args.latency_iters, not args.no_onnx))
        rows.append(row)
    keys = sorted({k for r in rows for k in r['metrics']})
    for r in rows:
        r.update({k: r['metrics'].get(k) for k in keys})

    lat = [f'{rt}_b{bs}_ms' for rt in ('torch', 'onnx') for bs in (1, 8)]
    header = f'{"model":20s} {"params (M)":>10s} {"GFLOPs":>8s} ' \
        f'{"acts (M)":>8s}' + ''.join(f' {k:>16s}' for k in keys) + \
        f' {"train (min)":>11s} {"ms / image":>10s}' + ''.join(
            f' {k[:-3]:>9s}' for k in lat)
    print(header)
    print('-' * len(header))

    def num(v, width, digits):
        return f'{"" if v is None else f"{v:.{digits}f}":>{width}s}'
    for r in rows:
        train = '' if r['train_min'] is None else f'{r["train_min"]:.1f}'
        print(f'{r["name"]:20s} {r["params_M"]:10.2f} '
              f'{num(r.get("flops_G"), 8, 3)} '
              f'{num(r.get("activations_M"), 8, 2)}' + ''.join(
                  f' {r[k] if r[k] is not None else float("nan"):16.2f}'
                  for k in keys) + f' {train:>11s} {r["infer_ms"]:10.1f}' +
              ''.join(f' {num(r.get(k), 9, 2)}' for k in lat))
    threads = rows[0].get('threads')
    print(f'\ninput: {rows[0].get("input_shape")}; ms / image: test_step at '
          f'batch 1 (with decoding); torch_bN / onnx_bN: the deployed graph '
          f'in PyTorch eager / ONNX Runtime at batch N, ms per image, median '
          f'of {args.latency_iters} after 3 warm-up, {threads} CPU threads')
    for r in rows:
        p = r.get('onnx_parity')
        if p:
            print(f'{r["name"]}: ONNX vs PyTorch on {p["images"]} test '
                  f'images: max |diff| {p["max_abs_diff"]:.1e}, '
                  f'{"OK" if p["ok"] else "MISMATCH"}')
    with open(osp.join(args.out, 'report.json'), 'w') as f:
        json.dump(dict(models=rows, images_timed=args.images,
                       latency_iters=args.latency_iters, threads=threads),
                  f, indent=2)
    plot(rows, keys, osp.join(args.out, 'report.png'))
    plot_accuracy_latency(rows, keys,
                          osp.join(args.out, 'accuracy_latency.png'))
    print(f'\nwritten to {osp.join(args.out, "report.json")}, '
          f'{osp.join(args.out, "report.png")} and '
          f'{osp.join(args.out, "accuracy_latency.png")}')
    return rows


if __name__ == '__main__':
    main()
