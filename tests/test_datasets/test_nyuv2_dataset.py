"""NYUv2Dataset: the documented layout loads with mmseg's own transforms,
the 40- and 13-class mappings are applied, and wrong layouts or label values
are refused before training with one line."""
import numpy as np
import pytest
from PIL import Image

from kdtools.datasets import NYU13_CLASSES, NYU40_CLASSES, NYUv2Dataset
from kdtools.datasets.checks import check_dataset_cfg
from kdtools.utils.errors import DatasetError

RAW = np.array([[0, 1, 8, 23], [25, 39, 40, 4]], dtype=np.uint8)


def _make(root, n_train=3, n_test=2, label=RAW):
    for split, n in (('train', n_train), ('test', n_test)):
        (root / 'images' / split).mkdir(parents=True)
        (root / 'labels40' / split).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((2, 4, 3), 40 * i, np.uint8)).save(
                root / 'images' / split / f'{i:04d}.png')
            Image.fromarray(label).save(
                root / 'labels40' / split / f'{i:04d}.png')
    return str(root)


PIPELINE = [dict(type='mmseg.LoadImageFromFile'),
            dict(type='mmseg.LoadAnnotations')]


def _first_label(ds):
    return ds[0]['gt_seg_map']


def test_layout_loads_and_maps_40_and_13(tmp_path):
    root = _make(tmp_path / 'nyuv2')
    ds = NYUv2Dataset(data_root=root, pipeline=PIPELINE)
    assert len(ds) == 3 and ds.metainfo['classes'] == NYU40_CLASSES
    test = NYUv2Dataset(data_root=root, pipeline=PIPELINE,
                        data_prefix=dict(img_path='images/test',
                                         seg_map_path='labels40/test'))
    assert len(test) == 2
    # unlabelled -> 255; wall 1 -> 0; door 8 -> 7; books 23 -> 22; tv 25 ->
    # 24; otherfurniture 39 -> 38; otherprop 40 -> 39; bed 4 -> 3
    assert _first_label(ds).tolist() == [[255, 0, 7, 22], [24, 38, 39, 3]]
    ds13 = NYUv2Dataset(data_root=root, pipeline=PIPELINE, num_classes=13)
    assert ds13.metainfo['classes'] == NYU13_CLASSES
    # 13 classes (0-based): wall 11, door -> wall 11, books 1, tv 10,
    # otherfurniture -> furniture 5, otherprop -> objects 6, bed 0
    assert _first_label(ds13).tolist() == [[255, 11, 11, 1], [10, 5, 6, 0]]
    names = [NYU13_CLASSES[i] for i in (11, 11, 1, 10, 5, 6, 0)]
    assert names == ['wall', 'wall', 'books', 'tv', 'furniture', 'objects',
                     'bed']
    with pytest.raises(DatasetError, match='num_classes=20'):
        NYUv2Dataset(data_root=root, num_classes=20)


def _cfg(root, **kwargs):
    return dict(type='NYUv2Dataset', data_root=root, **kwargs)


def test_preflight_refuses_wrong_layout_and_labels(tmp_path):
    good = _make(tmp_path / 'good')
    check_dataset_cfg(_cfg(good), 'train_dataloader.dataset')
    # wrong layout: image/ and labels/ instead of images/ and labels40/
    bad = tmp_path / 'bad'
    (bad / 'image' / 'train').mkdir(parents=True)
    (bad / 'labels' / 'train').mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"images/train.*does not exist "
                       r"\(data_root holds \['image', 'labels'\]\); "
                       r"expected images/\{train,test\}"):
        check_dataset_cfg(_cfg(str(bad)), 'train_dataloader.dataset')
    # a label value outside 0..40
    wrong = RAW.copy()
    wrong[0, 0] = 41
    out = _make(tmp_path / 'values', label=wrong)
    with pytest.raises(DatasetError, match=r'values \[41\] outside the '
                       r'NYU-40 ids 0\.\.40'):
        check_dataset_cfg(_cfg(out), 'train_dataloader.dataset')
    # an image without its label
    (tmp_path / 'good' / 'labels40' / 'train' / '0001.png').unlink()
    with pytest.raises(DatasetError, match=r'1 images .* have no label .*'
                       r'0001\.png'):
        check_dataset_cfg(_cfg(good), 'train_dataloader.dataset')
