"""The embedded data generator."""
import hashlib
import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from kdtools.datasets import (DIGIT_CLASSES, SEG_CLASSES, SEG_IGNORE_INDEX,
                              make_toy_data)


def _digest(root):
    h = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                h[osp.relpath(path, root)] = hashlib.sha1(f.read()).hexdigest()
    return h


def test_same_seed_same_files_other_seed_other_files(toy_data, tmp_path):
    again = tmp_path / 'again'
    make_toy_data(str(again), seed=0, size='tiny', img_size=64)
    assert _digest(toy_data) == _digest(str(again))
    other = tmp_path / 'other'
    make_toy_data(str(other), seed=1, size='tiny', img_size=64,
                  tasks=('det', ))
    a = _digest(osp.join(toy_data, 'det'))
    b = _digest(str(other / 'det'))
    assert a.keys() == b.keys() and a != b


def test_coco_json_loads_and_masks_lie_in_boxes(toy_data):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    for split, n in (('train', 16), ('val', 8)):
        coco = COCO(osp.join(toy_data, 'det', 'annotations',
                             f'instances_{split}.json'))
        assert len(coco.getImgIds()) == n
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == \
            list(DIGIT_CLASSES)
        anns = coco.loadAnns(coco.getAnnIds())
        assert len(anns) >= 2 * n  # several objects per image
        sizes = []
        for ann in anns:
            img = coco.loadImgs(ann['image_id'])[0]
            assert osp.isfile(osp.join(toy_data, 'det', split,
                                       img['file_name']))
            m = mask_utils.decode(ann['segmentation']).astype(bool)
            assert m.shape == (img['height'], img['width'])
            x, y, w, h = ann['bbox']
            assert w > 0 and h > 0
            ys, xs = np.nonzero(m)
            # the box is exactly the mask's extent: every mask pixel inside
            assert xs.min() == x and ys.min() == y
            assert xs.max() + 1 == x + w and ys.max() + 1 == y + h
            assert ann['area'] == int(m.sum())
            sizes.append(max(w, h))
        assert min(sizes) < 16 and max(sizes) > 24  # small and large objects


def test_some_objects_overlap(toy_data):
    with open(osp.join(toy_data, 'det', 'annotations',
                       'instances_train.json')) as f:
        coco = json.load(f)
    by_image = {}
    for ann in coco['annotations']:
        by_image.setdefault(ann['image_id'], []).append(ann['bbox'])
    overlaps = 0
    for boxes in by_image.values():
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
                ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
                overlaps += iw > 0 and ih > 0
    assert overlaps > 0


def test_seg_labels_in_range_or_ignore(toy_data):
    img_dir = osp.join(toy_data, 'seg', 'img_dir', 'train')
    ann_dir = osp.join(toy_data, 'seg', 'ann_dir', 'train')
    names = sorted(os.listdir(img_dir))
    assert names == sorted(os.listdir(ann_dir)) and len(names) == 16
    seen = set()
    for name in names:
        label = np.asarray(Image.open(osp.join(ann_dir, name)))
        img = np.asarray(Image.open(osp.join(img_dir, name)))
        assert label.shape == img.shape[:2] and label.dtype == np.uint8
        values = set(np.unique(label).tolist())
        assert values <= set(range(len(SEG_CLASSES))) | {SEG_IGNORE_INDEX}
        seen |= values
    assert 0 in seen and SEG_IGNORE_INDEX in seen and len(seen) > 3


def test_cls_folders(toy_data):
    root = osp.join(toy_data, 'cls', 'train')
    assert sorted(os.listdir(root)) == sorted(DIGIT_CLASSES)
    counts = [len(os.listdir(osp.join(root, c))) for c in DIGIT_CLASSES]
    assert counts == [20] * 10
    img = Image.open(osp.join(root, 'zero', sorted(
        os.listdir(osp.join(root, 'zero')))[0]))
    assert img.size == (32, 32) and img.mode == 'RGB'


def test_unknown_size_rejected(tmp_path):
    with pytest.raises(ValueError, match='huge'):
        make_toy_data(str(tmp_path), size='huge')
