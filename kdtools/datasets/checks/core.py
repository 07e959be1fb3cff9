"""Which datasets a config names and the checks run on each: folders and
annotation files always; the contents (images, label maps, boxes) as
``preflight_checks`` in the config says."""
import inspect
import os
import os.path as osp
from typing import Any, Iterator, Optional, Tuple

from kdtools.utils.errors import ConfigError, DatasetError
from .coco import check_coco_boxes, check_coco_images, check_coco_json
from .seg import check_seg_dataset

# the content checks, each on unless the config's ``preflight_checks``
# switches it off: ``images`` (each image exists, header read), ``labels``
# (each segmentation label map read in full, values checked), ``boxes``
# (COCO boxes: positive size, inside the image)
CONTENT_CHECKS = ('images', 'labels', 'boxes')


def resolve_checks(value: Any = None, key: str = 'preflight_checks') -> dict:
    """``preflight_checks`` as a dict of the :data:`CONTENT_CHECKS`: None or
    True: all on; False: all off; a dict: the named ones as given, the rest
    on."""
    if value is None or value is True:
        return dict.fromkeys(CONTENT_CHECKS, True)
    if value is False:
        return dict.fromkeys(CONTENT_CHECKS, False)
    expected = ('expected True, False or dict(images=True, labels=True, '
                'boxes=True)')
    if not isinstance(value, dict):
        raise ConfigError(f'{key}={value!r}; {expected}')
    unknown = sorted(str(k) for k in value if k not in CONTENT_CHECKS)
    if unknown:
        raise ConfigError(f'{key} has unknown key(s) {unknown}; {expected}')
    checks = dict.fromkeys(CONTENT_CHECKS, True)
    for name, on in value.items():
        if not isinstance(on, bool):
            raise ConfigError(f'{key}.{name}={on!r}; expected True or False')
        checks[name] = on
    return checks


def _join(root: str, path: str) -> str:
    if not path or osp.isabs(path) or '://' in path:
        return path
    return osp.join(root, path) if root else path


def _has_files(folder: str) -> bool:
    for _, _, files in os.walk(folder, followlinks=True):
        if files:
            return True
    return False


def _iter_datasets(cfg: Any, key: str) -> Iterator[Tuple[dict, str]]:
    """Yield leaf dataset configs (through wrappers such as RepeatDataset
    and ConcatDataset) with their dotted config key."""
    if not isinstance(cfg, dict):
        return
    if isinstance(cfg.get('dataset'), dict):
        yield from _iter_datasets(cfg['dataset'], f'{key}.dataset')
    elif isinstance(cfg.get('datasets'), (list, tuple)):
        for i, sub in enumerate(cfg['datasets']):
            yield from _iter_datasets(sub, f'{key}.datasets[{i}]')
    else:
        yield cfg, key


def _dataset_class(leaf: dict):
    """The class a dataset config builds, or None when it cannot be
    resolved here."""
    t = leaf.get('type')
    if isinstance(t, type):
        return t
    from mmengine.registry import DATASETS
    scope = leaf.get('_scope_')
    try:
        with DATASETS.switch_scope_and_registry(scope) as registry:
            return registry.get(t)
    except Exception:
        return None


def _is_coco_type(leaf: dict) -> bool:
    """Whether the dataset type reads COCO JSON (mmdet's CocoDataset or a
    subclass of it)."""
    cls = _dataset_class(leaf)
    if cls is None:
        return str(leaf.get('type')).split('.')[-1] == 'CocoDataset'
    from mmdet.datasets import CocoDataset
    return issubclass(cls, CocoDataset)


def _is_seg_type(cls) -> bool:
    if cls is None:
        return False
    from mmseg.datasets import BaseSegDataset
    return issubclass(cls, BaseSegDataset)


def _is_local(leaf: dict, root: str) -> bool:
    backend = (leaf.get('backend_args') or {}).get('backend', 'local')
    return '://' not in root and backend == 'local'


def _call_preflight(cls, leaf: dict, key: str, checks: dict) -> None:
    """A dataset class's own ``preflight(cfg, key[, checks])`` hook."""
    try:
        takes_checks = 'checks' in inspect.signature(
            cls.preflight).parameters
    except (TypeError, ValueError):
        takes_checks = False
    if takes_checks:
        cls.preflight(leaf, key, checks=checks)
    else:
        cls.preflight(leaf, key)


def _signature(leaf: dict) -> str:
    """What the checks of a dataset depend on (val and test loaders often
    name the same dataset: checked once)."""
    skip = ('pipeline', 'test_mode', 'filter_cfg', 'indices',
            'serialize_data', 'lazy_init', 'max_refetch')
    return repr(sorted((str(k), repr(v)) for k, v in leaf.items()
                       if k not in skip))


def check_dataset_cfg(cfg: dict, key: str = 'dataset',
                      checks: Optional[dict] = None,
                      _done: Optional[set] = None) -> None:
    """Check one dataset config: its folders and annotation file, then (as
    ``checks`` says, default all) its images, label maps and boxes."""
    checks = resolve_checks(checks)
    done = set() if _done is None else _done
    for leaf, leaf_key in _iter_datasets(cfg, key):
        signature = _signature(leaf)
        if signature in done:  # the same dataset, already checked
            continue
        done.add(signature)
        root = leaf.get('data_root') or ''
        if root and '://' not in root and not osp.isdir(root):
            raise DatasetError(
                f'dataset folder {root!r} ({leaf_key}.data_root) does not '
                'exist; expected the dataset on disk (the embedded sets: '
                '`python tools/dataset_converters/make_toy_data.py '
                '--out data/toy`)')
        ann = leaf.get('ann_file') or ''
        ann_path = _join(root, ann)
        coco = None
        if ann:
            if not osp.isfile(ann_path):
                raise DatasetError(
                    f'annotation file {ann_path!r} ({leaf_key}.ann_file) does '
                    'not exist')
            if ann_path.endswith('.json') and _is_coco_type(leaf):
                coco = check_coco_json(ann_path, f'{leaf_key}.ann_file')
        cls = _dataset_class(leaf)
        if cls is not None and hasattr(cls, 'preflight'):
            _call_preflight(cls, leaf, leaf_key, checks)
            continue
        prefix = leaf.get('data_prefix')
        if isinstance(prefix, str):
            prefix = dict(img_path=prefix)
        for name, sub in (prefix or {}).items():
            if not isinstance(sub, str):
                continue
            folder = _join(root, sub)
            if '://' in folder:
                continue
            if not folder or not osp.isdir(folder):
                raise DatasetError(
                    f'folder {folder!r} ({leaf_key}.data_prefix.{name}) does '
                    'not exist')
            if not _has_files(folder):
                raise DatasetError(
                    f'folder {folder!r} ({leaf_key}.data_prefix.{name}) is '
                    'empty; expected image or label files')
        if not _is_local(leaf, root):
            continue
        if coco is not None:
            if checks['boxes']:
                check_coco_boxes(coco, ann_path, f'{leaf_key}.ann_file')
            img_prefix = (prefix or {}).get('img')
            if checks['images'] and isinstance(img_prefix, str):
                check_coco_images(coco, ann_path, _join(root, img_prefix),
                                  f'{leaf_key}.data_prefix.img')
        elif _is_seg_type(cls):
            check_seg_dataset(cls, leaf, leaf_key, checks)


def check_runner_datasets(
        cfg,
        loaders=('train_dataloader', 'val_dataloader', 'test_dataloader')
) -> None:
    """Check the datasets of the dataloaders the Runner will build (all three
    for training, ``test_dataloader`` alone for testing) before it does;
    the config's ``preflight_checks`` switches the content checks
    (:func:`resolve_checks`)."""
    checks = resolve_checks(cfg.get('preflight_checks', None))
    done: set = set()
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if isinstance(loader_cfg, dict) and isinstance(
                loader_cfg.get('dataset'), dict):
            check_dataset_cfg(loader_cfg['dataset'], f'{loader}.dataset',
                              checks, done)
