"""Pre-flight checks of the datasets a config names, run by the tools before
the Runner is built: a missing or empty folder, or an annotation file that is
not what its dataset type reads, is reported in one line naming the path and
the config key, before any training starts."""
import json
import os
import os.path as osp
from typing import Any, Iterator, Tuple

from kdtools.utils.errors import DatasetError

_IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def _join(root: str, path: str) -> str:
    if not path or osp.isabs(path) or '://' in path:
        return path
    return osp.join(root, path) if root else path


def _has_files(folder: str) -> bool:
    for _, _, files in os.walk(folder, followlinks=True):
        if files:
            return True
    return False


def check_coco_json(path: str, key: str) -> None:
    """Check that ``path`` is a COCO instances file mmdet's CocoDataset can
    read (images, annotations, categories, consistent ids, xywh boxes)."""
    expected = ('expected COCO instances JSON with "images", "annotations" '
                'and "categories" lists')
    try:
        with open(path) as f:
            coco = json.load(f)
    except json.JSONDecodeError as e:
        raise DatasetError(f'annotation file {path!r} ({key}) is not valid '
                           f'JSON ({e.msg} at line {e.lineno}); {expected}') \
            from None
    if not isinstance(coco, dict):
        raise DatasetError(f'annotation file {path!r} ({key}) holds a '
                           f'{type(coco).__name__}; {expected}')
    for field in ('images', 'annotations', 'categories'):
        if not isinstance(coco.get(field), list):
            raise DatasetError(f'annotation file {path!r} ({key}) has no '
                               f'"{field}" list; {expected}')
    if not coco['images']:
        raise DatasetError(f'annotation file {path!r} ({key}) lists no '
                           'images')
    image_ids = set()
    for i, img in enumerate(coco['images']):
        if not isinstance(img, dict) or 'id' not in img or \
                'file_name' not in img:
            raise DatasetError(f'annotation file {path!r} ({key}): images[{i}]'
                               ' lacks "id" or "file_name"')
        image_ids.add(img['id'])
    cat_ids = set()
    for i, cat in enumerate(coco['categories']):
        if not isinstance(cat, dict) or 'id' not in cat or 'name' not in cat:
            raise DatasetError(f'annotation file {path!r} ({key}): '
                               f'categories[{i}] lacks "id" or "name"')
        cat_ids.add(cat['id'])
    for i, ann in enumerate(coco['annotations']):
        where = f'annotation file {path!r} ({key}): annotations[{i}]'
        if not isinstance(ann, dict):
            raise DatasetError(f'{where} is not an object')
        bbox = ann.get('bbox')
        if not (isinstance(bbox, list) and len(bbox) == 4 and
                all(isinstance(v, (int, float)) for v in bbox)):
            raise DatasetError(f'{where} has bbox {bbox!r}; expected '
                               '[x, y, width, height]')
        if ann.get('image_id') not in image_ids:
            raise DatasetError(f'{where} has image_id {ann.get("image_id")!r}'
                               ' that no image has')
        if ann.get('category_id') not in cat_ids:
            raise DatasetError(f'{where} has category_id '
                               f'{ann.get("category_id")!r} that no category '
                               'has')


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


def check_dataset_cfg(cfg: dict, key: str = 'dataset') -> None:
    """Check one dataset config's folders and annotation file."""
    for leaf, leaf_key in _iter_datasets(cfg, key):
        root = leaf.get('data_root') or ''
        if root and '://' not in root and not osp.isdir(root):
            raise DatasetError(
                f'dataset folder {root!r} ({leaf_key}.data_root) does not '
                'exist; expected the dataset on disk (the embedded sets: '
                '`python tools/make_toy_data.py --out data/toy`)')
        ann = leaf.get('ann_file') or ''
        ann_path = _join(root, ann)
        if ann:
            if not osp.isfile(ann_path):
                raise DatasetError(
                    f'annotation file {ann_path!r} ({leaf_key}.ann_file) does '
                    'not exist')
            if ann_path.endswith('.json') and _is_coco_type(leaf):
                check_coco_json(ann_path, f'{leaf_key}.ann_file')
        cls = _dataset_class(leaf)
        if cls is not None and hasattr(cls, 'preflight'):
            cls.preflight(leaf, leaf_key)
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


def check_runner_datasets(
        cfg,
        loaders=('train_dataloader', 'val_dataloader', 'test_dataloader')
) -> None:
    """Check the datasets of the dataloaders the Runner will build (all three
    for training, ``test_dataloader`` alone for testing) before it does."""
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if isinstance(loader_cfg, dict) and isinstance(
                loader_cfg.get('dataset'), dict):
            check_dataset_cfg(loader_cfg['dataset'], f'{loader}.dataset')
