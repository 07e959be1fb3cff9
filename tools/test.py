#!/usr/bin/env python
"""Evaluate a checkpoint on a config's test set with the MMLab metric the
config names (mAP: mmdet CocoMetric; mIoU: mmseg IoUMetric; top-1/top-5:
mmpretrain Accuracy). The flags are mmdet's / mmseg's ``tools/test.py``
flags, so a script written for theirs runs unchanged on this one.

Examples:
    python tools/test.py CONFIG work_dirs/run/epoch_12.pth
    python tools/test.py CONFIG CKPT --out preds.pkl        # predictions
    python tools/test.py CONFIG CKPT --json-out metrics.json
    python tools/test.py CONFIG CKPT --show-dir vis         # drawn images
    python tools/test.py CONFIG CKPT --tta
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

#: the task a model's package does, and what draws its predictions
TASK_OF_PACKAGE = {'mmdet': 'det', 'mmseg': 'seg', 'mmpretrain': 'cls'}
VISUALIZATION = {
    # task: (local visualizer, visualization hook), as in the package's own
    # default runtime
    'det': ('mmdet.DetLocalVisualizer', 'mmdet.DetVisualizationHook'),
    'seg': ('mmseg.SegLocalVisualizer', 'mmseg.SegVisualizationHook'),
    'cls': ('mmpretrain.UniversalVisualizer', 'mmpretrain.VisualizationHook'),
}
PICKLE_EXTS = ('.pkl', '.pickle')


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Evaluate a checkpoint with the metric its config names '
        '(mAP, mIoU, top-1/top-5); the flags are mmdet\'s/mmseg\'s '
        'tools/test.py flags.')
    parser.add_argument('config', help='config file path (a distillation '
                        'config evaluates its student)')
    parser.add_argument('checkpoint', help='checkpoint file (a distiller '
                        'checkpoint or a plain model checkpoint)')
    parser.add_argument(
        '--work-dir', help='where the test logs go (default: '
        'work_dirs/<config name>)')
    parser.add_argument(
        '--out', help='dump the predictions to this pickle (.pkl/.pickle) '
        'for offline evaluation (mmengine.load reads it), as mmdet\'s '
        '--out. For segmentation a folder (not ending in .pkl) gets the '
        'predicted masks as PNG files, as mmseg\'s --out. A path ending in '
        '.json writes the metrics JSON (old kdtools scripts; use '
        '--json-out)')
    parser.add_argument(
        '--json-out', help='write {"config", "checkpoint", "metrics": {...}} '
        'as JSON here')
    parser.add_argument(
        '--show', action='store_true',
        help='show the predictions in a window (needs a display)')
    parser.add_argument(
        '--show-dir', help='save the images with the predictions drawn '
        '(boxes, masks, labels) here; a relative folder goes under '
        'work_dir/<timestamp>/ for detection, as mmdet does')
    parser.add_argument(
        '--wait-time', type=float, default=2,
        help='with --show: seconds each image is shown (default 2)')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation with the '
        'config\'s tta_model and tta_pipeline')
    parser.add_argument(
        '--trust-checkpoint', action='append', default=[], metavar='PATH',
        help='allow full unpickling of the checkpoint PATH (only for files '
        'you trust); repeatable')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={}, help='override config entries, key=value')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm',
                                               'mpi'], default='none',
                        help='job launcher (dist_test.sh sets pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _to_builtin(value):
    if hasattr(value, 'item'):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_to_builtin(v) for v in value]
    return value


def _short(type_name) -> str:
    return str(type_name).rsplit('.', 1)[-1]


def _package_of(model_cfg, default_scope=None):
    """'mmdet' / 'mmseg' / 'mmpretrain' for a model config, from its type's
    scope (``mmdet.GFL``, ``_scope_``), the config's default scope, or the
    registry that holds the type; None if none does."""
    import importlib
    model_type = model_cfg.get('type')
    if not isinstance(model_type, str):
        module = getattr(model_type, '__module__', '') or ''
        return module.split('.')[0] if module.split('.')[0] in \
            TASK_OF_PACKAGE else None
    scope = model_cfg.get('_scope_') or (
        model_type.split('.')[0] if '.' in model_type else None)
    if scope in TASK_OF_PACKAGE:
        return scope
    if scope is None and default_scope in TASK_OF_PACKAGE:
        return default_scope
    for package in TASK_OF_PACKAGE:
        try:
            registry = importlib.import_module(f'{package}.registry').MODELS
            cls = registry.get(_short(model_type))
        except Exception:  # noqa: BLE001 - not installed / not found
            continue
        if cls is not None and cls.__module__.split('.')[0] == package:
            return package
    return None


def model_task(cfg):
    """'det', 'seg' or 'cls': the task of the config's model (a Distiller's
    student), from the model type's package, else from the test metric."""
    model = cfg.get('model') or {}
    if _short(model.get('type', '')) == 'Distiller':
        model = model.get('student') or {}
        if 'config' in model and 'type' not in model:
            from kdtools.models.distillers.teacher import model_cfg_from
            model = model_cfg_from(model.config, 'model.student')
    package = _package_of(model, cfg.get('default_scope'))
    if package is not None:
        return TASK_OF_PACKAGE[package]
    evaluator = cfg.get('test_evaluator') or {}
    metrics = evaluator if isinstance(evaluator, (list, tuple)) else [
        evaluator]
    names = {_short(m.get('type', '')) for m in metrics
             if isinstance(m, dict)}
    for task, metric_names in (('det', {'CocoMetric', 'VOCMetric',
                                        'LVISMetric'}),
                               ('seg', {'IoUMetric', 'CityscapesMetric'}),
                               ('cls', {'Accuracy', 'SingleLabelMetric',
                                        'MultiLabelMetric'})):
        if names & metric_names:
            return task
    return None


def _scoped(entry: dict, package: str) -> dict:
    """A hook/visualizer dict whose bare type (``DetVisualizationHook``)
    builds from ``package``'s registry whatever the default scope is."""
    if isinstance(entry.get('type'), str) and '.' not in entry['type'] \
            and '_scope_' not in entry:
        entry['_scope_'] = package
    return entry


def trigger_visualization(cfg, args, task) -> None:
    """``--show`` / ``--show-dir``: the task's visualization hook with
    drawing on (mmdet's, mmseg's and mmpretrain's ``tools/test.py`` do the
    same to their hooks) and the task's local visualizer where the config
    has the generic ``Visualizer`` (kdtools' default runtime serves every
    task)."""
    from kdtools.utils import ConfigError, resolve_scopes
    if task is None:
        raise ConfigError(
            f'--show/--show-dir: cannot tell the task of {args.config!r} '
            f'(model.type {cfg.model.get("type")!r}); expected an mmdet, '
            'mmseg or mmpretrain model (e.g. type="mmdet.GFL")')
    package = {v: k for k, v in TASK_OF_PACKAGE.items()}[task]
    vis_type, hook_type = VISUALIZATION[task]
    visualizer = copy.deepcopy(dict(cfg.get('visualizer') or {}))
    if _short(visualizer.get('type', 'Visualizer')) == 'Visualizer':
        visualizer.pop('_scope_', None)
        visualizer['type'] = vis_type
        visualizer.setdefault('vis_backends', cfg.get('vis_backends') or
                              [dict(type='LocalVisBackend')])
        visualizer.setdefault('name', 'visualizer')
    visualizer = _scoped(visualizer, package)
    default_hooks = cfg.get('default_hooks') or {}
    hook = copy.deepcopy(dict(default_hooks.get('visualization') or {}))
    if not hook:
        hook = dict(type=hook_type)
        if task != 'det':  # mmdet's hook draws every test image anyway
            hook['interval'] = 1
    hook = _scoped(hook, package)
    if task == 'cls':  # mmpretrain's tools/test.py
        hook.update(enable=True, show=args.show, wait_time=args.wait_time)
        hook['interval'] = 1
        if args.show_dir:
            hook['out_dir'] = args.show_dir
    else:  # mmdet's / mmseg's trigger_visualization_hook
        hook['draw'] = True
        if args.show:
            hook['show'] = True
            hook['wait_time'] = args.wait_time
        if args.show_dir:
            if task == 'det':
                hook['test_out_dir'] = args.show_dir
            else:
                visualizer['save_dir'] = args.show_dir
    cfg.visualizer = resolve_scopes(visualizer)
    cfg.default_hooks = dict(default_hooks)
    cfg.default_hooks['visualization'] = resolve_scopes(hook)


def check_tta(cfg, args) -> None:
    """``--tta`` needs the config's ``tta_model`` and ``tta_pipeline``."""
    from kdtools.utils import ConfigError
    missing = [k for k in ('tta_model', 'tta_pipeline') if k not in cfg]
    if missing:
        raise ConfigError(
            f'--tta: {args.config!r} has no {" or ".join(missing)}; expected '
            'tta_model=dict(type=...) and tta_pipeline=[...] in the config '
            '(as mmdet/mmseg configs with test-time augmentation define '
            'them)')


def apply_tta(cfg, args, task=None) -> None:
    """``--tta``: wrap the model in the config's ``tta_model`` and test with
    its ``tta_pipeline`` (mmdet's and mmseg's ``tools/test.py``)."""
    from mmengine.config import ConfigDict
    check_tta(cfg, args)
    tta_model = dict(cfg.tta_model)
    if task is not None:  # DetTTAModel / SegTTAModel under any scope
        tta_model = _scoped(tta_model, {
            v: k for k, v in TASK_OF_PACKAGE.items()}[task])
    cfg.model = ConfigDict(**tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


def _same_file(a, b) -> bool:
    return bool(a) and bool(b) and osp.realpath(a) == osp.realpath(b)


def check_outputs(args) -> None:
    """Outputs never overwrite the inputs (the checkpoint, the config)."""
    from kdtools.utils import ConfigError
    for flag, path in (('--out', args.out), ('--json-out', args.json_out)):
        for what, given in (('checkpoint', args.checkpoint),
                            ('config', args.config)):
            if path and _same_file(path, given):
                raise ConfigError(
                    f'{flag} {path!r} is the {what} being tested; expected '
                    'another path (it would be overwritten)')


def resolve_out(cfg, args, task):
    """Where ``--out`` goes: (predictions pickle, metrics JSON, mmseg output
    folder), one of them set."""
    from kdtools.utils import ConfigError
    out = args.out
    if out is None:
        return None, None, None
    if out.endswith(PICKLE_EXTS):
        return out, None, None
    if out.endswith('.json'):
        # old kdtools scripts: --out metrics.json wrote the metrics
        print(f'kdtools: --out {out}: a .json path writes the metrics (as '
              '--json-out does); --out PATH.pkl dumps the predictions',
              flush=True)
        return None, out, None
    if task == 'seg':
        return None, None, out
    raise ConfigError(
        f'--out {out!r}: expected a pickle path ending in .pkl or .pickle '
        '(the predictions, as mmdet\'s --out), or --json-out FILE for the '
        'metrics')


def _seg_output_dir(cfg, out_dir) -> None:
    """mmseg's ``--out DIR``: the IoU metric writes the predicted masks."""
    evaluator = cfg.test_evaluator
    metrics = evaluator if isinstance(evaluator, (list, tuple)) else [
        evaluator]
    for metric in metrics:
        if isinstance(metric, dict):
            metric['output_dir'] = out_dir
            metric['keep_results'] = True


def _dump_metric(task, path):
    """The metric that pickles the predictions (mmdet's ``DumpDetResults``
    for detection, which encodes masks as RLE; mmengine's ``DumpResults``
    otherwise)."""
    if task == 'det':
        from mmdet.evaluation import DumpDetResults
        return DumpDetResults(out_file_path=path)
    from mmengine.evaluator import DumpResults
    return DumpResults(out_file_path=path)


def _export_target(work_dir, args) -> str:
    """The plain student's path in the work dir (never an input file)."""
    target = osp.join(work_dir, 'student_exported.pth')
    n = 1
    while any(_same_file(p, given)
              for p in (target, osp.splitext(target)[0] + '.py')
              for given in (args.checkpoint, args.config)):
        target = osp.join(work_dir, f'student_exported_{n}.pth')
        n += 1
    return target


def main(argv=None):
    args = parse_args(argv)
    from mmengine.dist import get_rank

    from kdtools.engine.runner_utils import (build_runner,
                                             close_distributed,
                                             prepare_checkpoint_trust,
                                             resolve_work_dir,
                                             setup_cpu_distributed)
    from kdtools.utils import (CheckpointError, KDToolsError, load_config,
                               register_all_modules)

    register_all_modules()
    try:
        check_outputs(args)
        cfg = load_config(args.config, args.cfg_options)
        if not osp.isfile(args.checkpoint):
            raise CheckpointError(f'checkpoint {args.checkpoint!r} does not '
                                  'exist')
        resolve_work_dir(cfg, args.config, args.work_dir)
        prepare_checkpoint_trust(cfg, args.trust_checkpoint)
        if args.tta:  # refuse before anything is exported or built
            check_tta(cfg, args)
        task = model_task(cfg)
        pickle_out, json_out, seg_out = resolve_out(cfg, args, task)
        json_out = args.json_out or json_out
        checkpoint = args.checkpoint
        if _short(cfg.model.get('type', '')) == 'Distiller':
            # evaluate the student alone: no teacher is built or needed; the
            # plain student checkpoint is kept in the work dir
            from kdtools.models.distillers.export import (export_student,
                                                          student_config)
            checkpoint = _export_target(cfg.work_dir, args)
            # the work dir's own export, rewritten at each test
            export_student(cfg, args.checkpoint, checkpoint, force=True)
            work_dir = cfg.work_dir
            cfg = student_config(cfg)
            cfg.work_dir = work_dir
            print(f'kdtools: {args.config} is a distillation config; '
                  f'evaluating its student (exported to {checkpoint})',
                  flush=True)
        cfg.load_from = checkpoint
        cfg.resume = False
        if args.show or args.show_dir:
            trigger_visualization(cfg, args, task)
        if args.tta:
            apply_tta(cfg, args, task)
        if seg_out is not None:
            _seg_output_dir(cfg, seg_out)
        setup_cpu_distributed(cfg, args.launcher)
        runner = build_runner(cfg, mode='test')
        if pickle_out is not None:
            # mmdet's --out: a dump metric beside the config's metrics
            runner.test_evaluator.metrics.append(
                _dump_metric(task, pickle_out))
        metrics = runner.test()
    except KDToolsError as e:
        print(f'kdtools: error: {e}', file=sys.stderr)
        sys.exit(2)
    metrics = {k: _to_builtin(v) for k, v in metrics.items()}
    if get_rank() == 0:
        print(json.dumps(metrics, indent=2, sort_keys=True))
        if json_out:
            os.makedirs(osp.dirname(osp.abspath(json_out)), exist_ok=True)
            with open(json_out, 'w') as f:
                json.dump(dict(config=args.config,
                               checkpoint=args.checkpoint,
                               metrics=metrics), f, indent=2, sort_keys=True)
        if pickle_out is not None:
            print(f'kdtools: predictions written to {pickle_out}', flush=True)
    close_distributed()
    return metrics


if __name__ == '__main__':
    main()
