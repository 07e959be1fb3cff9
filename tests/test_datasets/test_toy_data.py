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


def test_mmlab_datasets_read_the_sets(toy_data):
    from mmengine.registry import DATASETS
    det = DATASETS.build(dict(
        type='ToyDetDataset', data_root=osp.join(toy_data, 'det'),
        ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'),
        pipeline=[]))
    assert len(det) == 8 and det.metainfo['classes'] == DIGIT_CLASSES
    seg = DATASETS.build(dict(
        type='ToySegDataset', data_root=osp.join(toy_data, 'seg'),
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=[]))
    assert len(seg) == 8
    cls = DATASETS.build(dict(
        type='mmpretrain.CustomDataset', _scope_='mmpretrain',
        data_root=osp.join(toy_data, 'cls'), data_prefix='val', pipeline=[]))
    assert len(cls) == 100 and len(cls.CLASSES) == 10


def test_unknown_size_rejected(tmp_path):
    with pytest.raises(ValueError, match='huge'):
        make_toy_data(str(tmp_path), size='huge')


def test_jitter_boxes_moves_train_edges_only(toy_data, tmp_path):
    """tools/jitter_boxes.py: every training box edge moves by noise of the
    asked size (relative to the box's side), boxes stay inside the image,
    val boxes and images are the source's; a bad --sigma or a folder
    without a set is a one-line error naming it."""
    from conftest import run_tool
    out = tmp_path / 'noisy'
    res = run_tool(['tools/jitter_boxes.py', toy_data, str(out), '--sigma',
                    '0.1'], check=True)
    ann = osp.join('det', 'annotations')
    with open(osp.join(toy_data, ann, 'instances_train.json')) as f:
        clean = json.load(f)
    with open(out / ann / 'instances_train.json') as f:
        noisy = json.load(f)
    assert f'{len(clean["annotations"])} training boxes' in res.stdout
    assert noisy['info']['box_noise']['sigma'] == 0.1
    size = {im['id']: (im['width'], im['height']) for im in noisy['images']}
    rel = []
    for a, b in zip(clean['annotations'], noisy['annotations']):
        assert a['id'] == b['id'] and a['category_id'] == b['category_id']
        (x, y, w, h), (nx, ny, nw, nh) = a['bbox'], b['bbox']
        iw, ih = size[b['image_id']]
        assert 0 <= nx and 0 <= ny and nw >= 1 and nh >= 1
        assert nx + nw <= iw + 1e-6 and ny + nh <= ih + 1e-6
        rel += [(nx - x) / w, (ny - y) / h]
    # std of the left/top edge shifts ~ sigma (clipping at the image
    # border only shrinks it); no edge is left where it was
    assert 0.05 < float(np.std(rel)) < 0.15
    assert sum(abs(r) > 1e-3 for r in rel) > 0.9 * len(rel)
    with open(osp.join(toy_data, ann, 'instances_val.json'), 'rb') as f, \
            open(out / ann / 'instances_val.json', 'rb') as g:
        assert f.read() == g.read()
    assert sorted(os.listdir(out / 'det' / 'train')) == sorted(
        os.listdir(osp.join(toy_data, 'det', 'train')))

    res = run_tool(['tools/jitter_boxes.py', toy_data, str(tmp_path / 'x'),
                    '--sigma', '1.5'])
    assert res.returncode == 2 and '--sigma 1.5' in res.stderr
    res = run_tool(['tools/jitter_boxes.py', str(tmp_path / 'none'),
                    str(tmp_path / 'y')])
    assert res.returncode == 2 and str(tmp_path / 'none') in res.stderr
    assert not osp.exists(tmp_path / 'y')
