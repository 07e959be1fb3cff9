"""Segmentation datasets in mmseg layout (BaseSegDataset subclasses):
every image exists and its header reads (``images``); every label map
exists, is read in full, and holds only class indices ``0..C-1`` or the
ignore index after ``reduce_zero_label`` and the dataset's label map, the
values mmseg's ``LoadAnnotations`` hands the loss (``labels``)."""
import os.path as osp
from typing import Dict, Optional

import numpy as np

from kdtools.utils.errors import DatasetError
from .images import _one_line, for_each_file, image_size


def label_values(path: str, key: str, what: str = 'label map',
                 expected: str = 'class indices') -> np.ndarray:
    """The distinct values of a single-channel label map (sorted), read in
    full; a missing, unreadable or multi-channel file is a
    :class:`DatasetError` naming it."""
    from PIL import Image
    if not osp.isfile(path):
        raise DatasetError(f'{what} {path!r} ({key}) does not exist; '
                           'expected one label map per image')
    try:
        with Image.open(path) as img:
            if img.mode in ('L', 'P'):
                # indices, not palette colours; PIL's C histogram is ~4x
                # faster than np.bincount on the decoded array
                hist = np.asarray(img.histogram())
                return np.flatnonzero(hist)
            label = np.asarray(img)
    except Exception as e:  # PIL raises several types on bad bytes
        raise DatasetError(
            f'{what} {path!r} ({key}) cannot be read ({_one_line(e)}); '
            f'expected a PNG of {expected}') from None
    label = label.squeeze()
    if label.ndim != 2:
        raise DatasetError(
            f'{what} {path!r} ({key}) has shape {label.shape} (mode '
            f'{img.mode}); expected a single-channel map of {expected} '
            '(mode L or P), not a colour image')
    return np.unique(label).astype(np.int64)


def training_ids(reduce_zero_label: bool = False,
                 label_map: Optional[Dict[int, int]] = None) -> np.ndarray:
    """The training id of each stored value 0..255, as mmseg's
    ``LoadAnnotations`` computes it: ``reduce_zero_label`` (0 -> 255,
    v -> v - 1, 255 stays), then the dataset's ``label_map``."""
    ids = np.arange(256, dtype=np.int64)
    if reduce_zero_label:
        ids[0] = 255
        ids[1:] -= 1
        ids[ids == 254] = 255
    if label_map:
        mapped = ids.copy()
        for old, new in label_map.items():
            mapped[ids == old] = new
        ids = mapped
    return ids


def check_label_values(path: str, key: str, num_classes: int,
                       ignore_index: int, ids: np.ndarray,
                       owner: str) -> None:
    """The label map at ``path`` holds only values whose training id
    (``ids``) is a class index or ``ignore_index``."""
    values = label_values(path, key)
    big = values[(values < 0) | (values > 255)]
    if big.size:
        raise DatasetError(
            f'label map {path!r} ({key}) holds values {big[:5].tolist()} '
            'outside 0..255 (mmseg reads label maps as uint8 and would wrap '
            f'them); expected class indices 0..{num_classes - 1} or the '
            f'ignore index {ignore_index}')
    train = ids[values]
    bad = values[((train < 0) | (train >= num_classes)) &
                 (train != ignore_index)]
    if not bad.size:
        return
    bad = bad[:5].tolist()
    shown = ', '.join(str(v) if ids[v] == v else f'{v} (-> {ids[v]})'
                      for v in bad)
    how = ''
    if any(ids[v] != v for v in bad):
        how = ' (stored -> training id after reduce_zero_label/label_map)'
    raise DatasetError(
        f'label map {path!r} ({key}) holds value{"s" if len(bad) > 1 else ""}'
        f' {shown}{how}; expected class indices 0..{num_classes - 1} '
        f'({num_classes} classes in {owner}\'s metainfo) or the ignore index '
        f'{ignore_index}')


def check_seg_dataset(cls, leaf: dict, key: str, checks: dict) -> None:
    """Build the dataset without its pipeline or data list
    (``lazy_init``), list its samples as mmseg does, then check them. A
    dataset that cannot be built here is left to the Runner, which reports
    the same error."""
    if not (checks['images'] or checks['labels']):
        return
    kwargs = {k: v for k, v in leaf.items()
              if k not in ('type', '_scope_', 'pipeline', 'lazy_init')}
    try:
        ds = cls(pipeline=[], lazy_init=True, **kwargs)
        samples = ds.load_data_list()
    except DatasetError:
        raise
    except Exception:
        return
    prefix = ds.data_prefix or {}
    ann_file = ds.ann_file if ds.ann_file and osp.isfile(ds.ann_file) \
        else None
    if not samples and checks['images']:
        raise DatasetError(
            f'{key}: no *{ds.img_suffix} images under '
            f'{prefix.get("img_path")!r}'
            + (f' named in {ann_file!r}' if ann_file else '') +
            f'; expected image files named <name>{ds.img_suffix} '
            f'({key}.img_suffix)')
    if checks['images']:
        img_key = f'{key}.data_prefix.img_path'
        for_each_file(
            lambda s: image_size(s['img_path'], img_key, listed_in=ann_file),
            samples, 'images (header read)', key, 'images')
    classes = ds.metainfo.get('classes')
    with_labels = [s['seg_map_path'] for s in samples
                   if s.get('seg_map_path')]
    if not checks['labels'] or not classes or not with_labels:
        return
    ids = training_ids(ds.reduce_zero_label, ds.label_map)
    seg_key = f'{key}.data_prefix.seg_map_path'
    owner = type(ds).__name__
    for_each_file(
        lambda p: check_label_values(p, seg_key, len(classes),
                                     ds.ignore_index, ids, owner),
        with_labels, 'label maps (full read)', key, 'labels')
