import os
import os.path as osp
from typing import Dict, Optional

import numpy as np
from mmseg.datasets import BaseSegDataset

from kdtools.registry import DATASETS
from kdtools.utils.errors import DatasetError

NYU40_CLASSES = (
    'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door',
    'window', 'bookshelf', 'picture', 'counter', 'blinds', 'desk', 'shelves',
    'curtain', 'dresser', 'pillow', 'mirror', 'floor mat', 'clothes',
    'ceiling', 'books', 'refrigerator', 'television', 'paper', 'towel',
    'shower curtain', 'box', 'whiteboard', 'person', 'night stand', 'toilet',
    'sink', 'lamp', 'bathtub', 'bag', 'otherstructure', 'otherfurniture',
    'otherprop')
NYU13_CLASSES = ('bed', 'books', 'ceiling', 'chair', 'floor', 'furniture',
                 'objects', 'picture', 'sofa', 'table', 'tv', 'wall',
                 'window')
# NYU-40 id (index; 0 = unlabelled) -> 13-class id (1-based), the mapping of
# Couprie et al. 2013 / Eigen & Fergus 2015 used with the 13-class benchmark
NYU40_TO_13 = (0, 12, 5, 6, 1, 4, 9, 10, 12, 13, 6, 8, 6, 13, 10, 6, 13, 6, 7,
               7, 5, 7, 3, 2, 6, 11, 7, 7, 7, 7, 7, 7, 6, 7, 7, 7, 7, 7, 7, 6,
               7)
IGNORE_INDEX = 255


def _palette(n: int):
    rng = np.random.RandomState(40)
    return [tuple(int(c) for c in rng.randint(0, 256, 3)) for _ in range(n)]


@DATASETS.register_module()
class NYUv2Dataset(BaseSegDataset):
    """NYU Depth v2 semantic segmentation (Silberman et al., ECCV 2012),
    with the 40-class label set of Gupta et al. (CVPR 2013) or the 13-class
    set of Couprie et al. (2013), on the standard 795 train / 654 test split.

    Folder layout (``data_root``)::

        images/train/<name>.png      795 RGB images (640x480)
        images/test/<name>.png       654
        labels40/train/<name>.png    uint8: 0 unlabelled, 1..40 NYU-40 ids
        labels40/test/<name>.png

    The labels are stored once, as NYU-40 ids; ``num_classes=13`` maps them
    to the 13 classes when loading. Training ids are 0-based; unlabelled
    pixels become 255 (ignored).

    Args:
        num_classes (int): 40 or 13.
        data_prefix (dict): ``img_path`` and ``seg_map_path`` folders under
            ``data_root`` (default: the train split).
    """
    METAINFO = dict(classes=NYU40_CLASSES, palette=_palette(40))

    def __init__(self,
                 num_classes: int = 40,
                 data_prefix: dict = dict(img_path='images/train',
                                          seg_map_path='labels40/train'),
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        if num_classes not in (13, 40):
            raise DatasetError(f'NYUv2Dataset: num_classes={num_classes!r}; '
                               'expected 13 or 40')
        self.num_classes = num_classes
        super().__init__(data_prefix=data_prefix, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=False, **kwargs)

    def _load_metainfo(self, metainfo: Optional[dict] = None) -> dict:
        classes = NYU40_CLASSES if self.num_classes == 40 else NYU13_CLASSES
        meta = dict(classes=classes, palette=_palette(len(classes)))
        meta.update(metainfo or {})
        return meta

    def get_label_map(self, new_classes=None) -> Dict[int, int]:
        """NYU-40 id on disk -> training id (0-based; 0 -> 255)."""
        mapping = {0: IGNORE_INDEX}
        for nyu40 in range(1, 41):
            mapping[nyu40] = nyu40 - 1 if self.num_classes == 40 else \
                NYU40_TO_13[nyu40] - 1
        return mapping

    @classmethod
    def preflight(cls, cfg: dict, key: str,
                  checks: Optional[dict] = None) -> None:
        """Check the folder layout, the images (exist, header reads) and the
        label values (each label map read in full) before training: one
        error naming what was found and what was expected. ``checks``
        (``preflight_checks`` in the config) switches the ``images`` and
        ``labels`` checks; the layout is always checked."""
        checks = checks or {}
        root = cfg.get('data_root') or ''
        prefix = cfg.get('data_prefix') or dict(
            img_path='images/train', seg_map_path='labels40/train')
        img_dir = osp.join(root, prefix.get('img_path', ''))
        seg_dir = osp.join(root, prefix.get('seg_map_path', ''))
        layout = ('expected images/{train,test}/*.png and '
                  'labels40/{train,test}/*.png under data_root (README, '
                  '"NYUv2")')
        for name, folder in (('img_path', img_dir), ('seg_map_path',
                                                     seg_dir)):
            if not osp.isdir(folder):
                found = sorted(os.listdir(root))[:8] if osp.isdir(root) \
                    else 'nothing'
                raise DatasetError(
                    f'NYUv2: folder {folder!r} ({key}.data_prefix.{name}) '
                    f'does not exist (data_root holds {found}); {layout}')
        img_suffix = cfg.get('img_suffix', '.png')
        seg_suffix = cfg.get('seg_map_suffix', '.png')
        images = {f[:-len(img_suffix)] for f in os.listdir(img_dir)
                  if f.endswith(img_suffix)}
        labels = {f[:-len(seg_suffix)] for f in os.listdir(seg_dir)
                  if f.endswith(seg_suffix)}
        if not images:
            raise DatasetError(f'NYUv2: no *{img_suffix} images in '
                               f'{img_dir!r} ({key}); {layout}')
        missing = sorted(images - labels)
        if missing:
            raise DatasetError(
                f'NYUv2: {len(missing)} images in {img_dir!r} have no label '
                f'in {seg_dir!r} (e.g. {missing[0]}{seg_suffix}); {layout}')
        from kdtools.datasets.checks.images import for_each_file, image_size
        from kdtools.datasets.checks.seg import label_values
        names = sorted(images)
        if checks.get('images', True):
            img_key = f'{key}.data_prefix.img_path'
            for_each_file(
                lambda n: image_size(osp.join(img_dir, n + img_suffix),
                                     img_key),
                names, 'images (header read)', key, 'images')
        if not checks.get('labels', True):
            return
        seg_key = f'{key}.data_prefix.seg_map_path'

        def check_label(name: str) -> None:
            path = osp.join(seg_dir, name + seg_suffix)
            try:
                values = label_values(path, seg_key, 'label', 'NYU-40 ids')
            except DatasetError as e:
                raise DatasetError(f'NYUv2: {e}') from None
            bad = values[values > 40]
            if bad.size:
                raise DatasetError(
                    f'NYUv2: label {path!r} holds values '
                    f'{bad[:5].tolist()} outside the NYU-40 ids 0..40 '
                    '(0 unlabelled)')

        for_each_file(check_label, names, 'label maps (full read)', key,
                      'labels')
