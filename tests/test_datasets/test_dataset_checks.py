"""Data checked before training (issue 21, item 4): a segmentation label
value that is neither a class index nor the ignore index, an image listed but
missing or unreadable, a COCO box with non-positive size or outside its
image, each refused by the pre-flight checks in one line naming the file and
what was expected, for the COCO, mmseg-layout and NYUv2 datasets; a valid
set passes; ``preflight_checks`` switches each content check off."""
import json
import os.path as osp
import shutil

import numpy as np
import pytest
from conftest import write_config
from PIL import Image

from kdtools.datasets.checks import check_runner_datasets
from kdtools.utils.errors import ConfigError, DatasetError

GARBAGE = b'this is not an image\n' * 8


def _one_line(excinfo):
    msg = str(excinfo.value)
    assert '\n' not in msg, msg
    return msg


# ---------------------------------------------------------------- COCO


@pytest.fixture
def det(toy_data, tmp_path):
    root = tmp_path / 'det'
    shutil.copytree(osp.join(toy_data, 'det'), root)
    return root


def _det_cfg(root, **top):
    dataset = dict(type='ToyDetDataset', data_root=str(root) + '/',
                   ann_file='annotations/instances_train.json',
                   data_prefix=dict(img='train/'), pipeline=[])
    return dict(train_dataloader=dict(dataset=dataset), **top)


def _edit_json(root, edit):
    path = root / 'annotations' / 'instances_train.json'
    coco = json.loads(path.read_text())
    edit(coco)
    path.write_text(json.dumps(coco))
    return str(path)


def test_coco_valid_set_passes(det):
    check_runner_datasets(_det_cfg(det))


@pytest.mark.parametrize('bbox, expected', [
    ([10, 10, 0, 5], 'width 0 and height 5; expected [x, y, width, height] '
     'with width > 0 and height > 0'),
    ([10, 10, 5, -2], 'width 5 and height -2; expected'),
    ([200, 10, 20, 20], 'spanning x 200..220, y 10..30; expected it inside '
     'the 64x64 image (width x height in "images", 1-pixel tolerance)'),
    ([-5, 0, 10, 10], 'spanning x -5..5'),
])
def test_coco_bad_box(det, bbox, expected):

    def edit(coco):
        coco['annotations'][3]['bbox'] = bbox

    path = _edit_json(det, edit)
    with pytest.raises(DatasetError) as e:
        check_runner_datasets(_det_cfg(det))
    msg = _one_line(e)
    assert f'annotation file {path!r}' in msg
    assert 'train_dataloader.dataset.ann_file' in msg
    assert 'annotations[3]' in msg and "image '0000" in msg
    assert expected in msg


def test_coco_box_within_one_pixel_of_the_border_passes(det):

    def edit(coco):
        img = coco['images'][0]
        ann = next(a for a in coco['annotations']
                   if a['image_id'] == img['id'])
        ann['bbox'] = [-0.6, -0.4, img['width'] + 1.0, img['height'] + 1.2]

    _edit_json(det, edit)
    check_runner_datasets(_det_cfg(det))


def test_coco_image_missing_or_unreadable(det):
    ann = str(det / 'annotations' / 'instances_train.json')
    missing = det / 'train' / '000002.png'
    missing.unlink()
    with pytest.raises(DatasetError) as e:
        check_runner_datasets(_det_cfg(det))
    msg = _one_line(e)
    assert f'image {str(missing)!r} listed in {ann!r}' in msg
    assert 'train_dataloader.dataset.data_prefix.img' in msg
    assert 'does not exist; expected the file on disk' in msg
    missing.write_bytes(GARBAGE)
    with pytest.raises(DatasetError) as e:
        check_runner_datasets(_det_cfg(det))
    msg = _one_line(e)
    assert f'image {str(missing)!r}' in msg
    assert 'cannot be read as an image' in msg
    assert 'expected an image file' in msg


def test_coco_image_size_differs_from_json(det):
    Image.new('RGB', (48, 64)).save(det / 'train' / '000001.png')
    with pytest.raises(DatasetError) as e:
        check_runner_datasets(_det_cfg(det))
    msg = _one_line(e)
    assert '000001.png' in msg and 'is 48x64 (width x height)' in msg
    assert 'states 64x64; expected the size the annotation file states' \
        in msg


def test_coco_image_without_size_in_json(det):

    def edit(coco):
        del coco['images'][1]['width']

    path = _edit_json(det, edit)
    with pytest.raises(DatasetError) as e:
        check_runner_datasets(_det_cfg(det))
    msg = _one_line(e)
    assert path in msg and "images[1] ('000001.png') has width None" in msg


# ---------------------------------------------------------- mmseg layout


@pytest.fixture
def seg(toy_data, tmp_path):
    root = tmp_path / 'seg'
    shutil.copytree(osp.join(toy_data, 'seg'), root)
    return root


def _seg_cfg(root, **kwargs):
    top = {k: kwargs.pop(k) for k in list(kwargs) if k == 'preflight_checks'}
    dataset = dict(type='ToySegDataset', data_root=str(root) + '/',
                   data_prefix=dict(img_path='img_dir/train',
                                    seg_map_path='ann_dir/train'),
                   pipeline=[], **kwargs)
    return dict(train_dataloader=dict(dataset=dataset), **top)


def _write_label(root, name, value, split='train'):
    path = root / 'ann_dir' / split / name
    label = np.asarray(Image.open(path)).copy()
    label[3, 4] = value
    Image.fromarray(label).save(path)
    return str(path)


def test_seg_valid_set_passes(seg):
    check_runner_datasets(_seg_cfg(seg))


def test_seg_label_value_out_of_range(seg):
    path = _write_label(seg, '000005.png', 50)
    with pytest.raises(DatasetError) as e:
        check_runner_datasets(_seg_cfg(seg))
    msg = _one_line(e)
    assert msg == (
        f'label map {path!r} (train_dataloader.dataset.data_prefix.'
        'seg_map_path) holds value 50; expected class indices 0..10 (11 '
        "classes in ToySegDataset's metainfo) or the ignore index 255")


def test_seg_label_checked_after_reduce_zero_label_and_ignore_index(seg):
    # reduce_zero_label: stored 0 -> 255 (ignored), 11 -> 10 (valid),
    # 12 -> 11 (out of range for 11 classes)
    _write_label(seg, '000001.png', 11)
    check_runner_datasets(_seg_cfg(seg, reduce_zero_label=True))
    path = _write_label(seg, '000002.png', 12)
    with pytest.raises(DatasetError) as e:
        check_runner_datasets(_seg_cfg(seg, reduce_zero_label=True))
    msg = _one_line(e)
    assert path in msg
    assert 'holds value 12 (-> 11) (stored -> training id after ' \
        'reduce_zero_label/label_map); expected class indices 0..10' in msg
    # the dataset's ignore_index: 255 is no longer ignored
    with pytest.raises(DatasetError) as e:
        check_runner_datasets(_seg_cfg(seg, ignore_index=100))
    msg = _one_line(e)
    assert 'holds value 255; expected class indices 0..10' in msg
    assert 'or the ignore index 100' in msg


def test_seg_class_count_from_metainfo_override(seg):
    from kdtools.datasets import SEG_CLASSES
    # a subset of the classes: the others map to 255 (mmseg's label map),
    # values past the original classes stay and are refused
    meta = dict(classes=SEG_CLASSES[:3])
    check_runner_datasets(_seg_cfg(seg, metainfo=meta))
    _write_label(seg, '000000.png', 30)
    with pytest.raises(DatasetError) as e:
        check_runner_datasets(_seg_cfg(seg, metainfo=meta))
    msg = _one_line(e)
    assert '000000.png' in msg and 'holds value 30; expected class ' \
        "indices 0..2 (3 classes in ToySegDataset's metainfo)" in msg


def test_seg_image_missing_unreadable_and_label_missing(seg):
    split = seg / 'split.txt'
    split.write_text('000000\n000001\n000099\n')
    with pytest.raises(DatasetError) as e:
        check_runner_datasets(_seg_cfg(seg, ann_file='split.txt'))
    msg = _one_line(e)
    img = str(seg / 'img_dir' / 'train' / '000099.png')
    assert f'image {img!r} listed in {str(split)!r}' in msg
    assert 'does not exist' in msg
    bad = seg / 'img_dir' / 'train' / '000007.png'
    bad.write_bytes(GARBAGE)
    with pytest.raises(DatasetError) as e:
        check_runner_datasets(_seg_cfg(seg))
    msg = _one_line(e)
    assert f'image {str(bad)!r} (train_dataloader.dataset.data_prefix.' \
        'img_path) cannot be read as an image' in msg
    bad.unlink()
    label = seg / 'ann_dir' / 'train' / '000004.png'
    label.unlink()
    with pytest.raises(DatasetError) as e:
        check_runner_datasets(_seg_cfg(seg))
    msg = _one_line(e)
    assert f'label map {str(label)!r}' in msg
    assert 'does not exist; expected one label map per image' in msg


def test_seg_colour_label_is_refused(seg):
    path = seg / 'ann_dir' / 'train' / '000003.png'
    Image.new('RGB', (64, 64)).save(path)
    with pytest.raises(DatasetError) as e:
        check_runner_datasets(_seg_cfg(seg))
    msg = _one_line(e)
    assert str(path) in msg and 'has shape (64, 64, 3) (mode RGB); ' \
        'expected a single-channel map of class indices' in msg


def test_seg_wrong_image_suffix(seg):
    with pytest.raises(DatasetError) as e:
        check_runner_datasets(_seg_cfg(seg, img_suffix='.jpg'))
    msg = _one_line(e)
    assert 'no *.jpg images under' in msg and 'img_dir/train' in msg


# ----------------------------------------------------------------- NYUv2


def _make_nyu(root, n=3):
    for split in ('train', 'test'):
        (root / 'images' / split).mkdir(parents=True)
        (root / 'labels40' / split).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((6, 8, 3), 40 * i, np.uint8)).save(
                root / 'images' / split / f'{i:04d}.png')
            label = np.arange(48, dtype=np.uint8).reshape(6, 8) % 41
            Image.fromarray(label).save(
                root / 'labels40' / split / f'{i:04d}.png')
    return root


def _nyu_cfg(root, **top):
    return dict(train_dataloader=dict(dataset=dict(
        type='NYUv2Dataset', data_root=str(root), num_classes=13,
        pipeline=[])), **top)


def test_nyuv2_valid_label_and_image_checks(tmp_path):
    root = _make_nyu(tmp_path / 'nyu')
    check_runner_datasets(_nyu_cfg(root))
    label = root / 'labels40' / 'train' / '0002.png'
    Image.fromarray(np.full((6, 8), 50, np.uint8)).save(label)
    with pytest.raises(DatasetError) as e:
        check_runner_datasets(_nyu_cfg(root))
    msg = _one_line(e)
    assert msg == (f'NYUv2: label {str(label)!r} holds values [50] outside '
                   'the NYU-40 ids 0..40 (0 unlabelled)')
    check_runner_datasets(_nyu_cfg(root,
                                   preflight_checks=dict(labels=False)))
    img = root / 'images' / 'train' / '0001.png'
    img.write_bytes(GARBAGE)
    with pytest.raises(DatasetError) as e:
        check_runner_datasets(_nyu_cfg(root,
                                       preflight_checks=dict(labels=False)))
    msg = _one_line(e)
    assert f'image {str(img)!r} (train_dataloader.dataset.data_prefix.' \
        'img_path) cannot be read as an image' in msg
    check_runner_datasets(_nyu_cfg(root, preflight_checks=False))


# ----------------------------------------------------- switches, progress


def test_switches_turn_each_check_off(det, seg):

    def edit(coco):
        coco['annotations'][0]['bbox'] = [0, 0, 0, 0]

    _edit_json(det, edit)
    (det / 'train' / '000003.png').write_bytes(GARBAGE)
    with pytest.raises(DatasetError, match='width > 0'):
        check_runner_datasets(_det_cfg(det))
    with pytest.raises(DatasetError, match='cannot be read as an image'):
        check_runner_datasets(_det_cfg(det,
                                       preflight_checks=dict(boxes=False)))
    check_runner_datasets(_det_cfg(
        det, preflight_checks=dict(boxes=False, images=False)))
    check_runner_datasets(_det_cfg(det, preflight_checks=False))
    _write_label(seg, '000005.png', 50)
    check_runner_datasets(_seg_cfg(seg,
                                   preflight_checks=dict(labels=False)))
    (seg / 'img_dir' / 'train' / '000001.png').write_bytes(GARBAGE)
    with pytest.raises(DatasetError, match='000001.png.*cannot be read'):
        check_runner_datasets(_seg_cfg(seg,
                                       preflight_checks=dict(labels=False)))
    check_runner_datasets(_seg_cfg(seg, preflight_checks=False))
    # the folder checks stay on
    with pytest.raises(DatasetError, match='does not exist'):
        check_runner_datasets(_seg_cfg(seg.parent / 'nope',
                                       preflight_checks=False))


def test_unknown_switch_is_config_error(seg):
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['label'\]; "
                       r'expected True, False or dict\(images=True'):
        check_runner_datasets(_seg_cfg(seg,
                                       preflight_checks=dict(label=False)))


def test_many_files_threads_and_progress(seg, monkeypatch, capsys):
    from kdtools.datasets.checks import images as images_mod
    monkeypatch.setattr(images_mod, 'PROGRESS_MIN', 4)
    monkeypatch.setattr(images_mod, 'THREADS_MIN', 2)
    check_runner_datasets(_seg_cfg(seg))
    out = capsys.readouterr().out
    assert 'kdtools: checking 16 label maps (full read) of ' \
        'train_dataloader.dataset (set preflight_checks=dict(labels=False)' \
        ' in the config to skip this)' in out
    assert '16/16' in out
    # threaded: still the first bad file in order is the one reported
    for name in ('000009.png', '000012.png', '000003.png'):
        _write_label(seg, name, 77)
    with pytest.raises(DatasetError, match='000003.png.* holds value 77'):
        check_runner_datasets(_seg_cfg(seg))


def test_build_runner_refuses_bad_label_before_training(toy_data, tmp_path):
    """The tools' path (build_runner, as tools/train.py calls it), with the
    switch given as tools/train.py --cfg-options would."""
    from kdtools.engine.runner_utils import build_runner
    from kdtools.utils import load_config
    data = tmp_path / 'data'
    shutil.copytree(osp.join(toy_data, 'seg'), data / 'seg')
    path = _write_label(data / 'seg', '000006.png', 50)
    body = f"""
data_root = {str(data / 'seg') + '/'!r}
train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
work_dir = {str(tmp_path / 'work')!r}
"""
    cfg_path = write_config(tmp_path / 'seg.py',
                            'seg/fcn_r18-base16-d8_2k_toyseg.py', body)
    with pytest.raises(DatasetError) as e:
        build_runner(load_config(cfg_path), mode='train')
    msg = _one_line(e)
    assert msg.startswith(f'label map {path!r}')
    assert 'holds value 50; expected class indices 0..10' in msg
    assert not (tmp_path / 'work').exists()
    # the switch from the command line: only the label check is off, and
    # the Runner would be built next (stop it there)
    cfg = load_config(cfg_path, {'preflight_checks.labels': False})
    check_runner_datasets(cfg)
