"""tools/dataset_converters/nyuv2.py on a tiny file of the official
structure: the labelled .mat is MATLAB v7.3 (HDF5 behind a 512-byte header)
with ``images`` N x 3 x W x H and ``labels`` N x W x H, stored transposed as
MATLAB writes them; splits.mat and classMapping40.mat are MATLAB v5. The
output is the layout NYUv2Dataset reads, with the split, the 894 -> 40
mapping and the image orientation checked against values worked out by
hand; bad input is refused in one line, exit 2, before anything is
written."""
import importlib.util
import os
import os.path as osp

import h5py
import numpy as np
import pytest
import scipy.io
from PIL import Image

from conftest import ROOT, run_tool

TOOL = 'tools/dataset_converters/nyuv2.py'
N, H, W = 6, 12, 16          # H != W: a transpose bug changes the shape
TRAIN, TEST = [4, 1, 6, 3], [5, 2]   # 1-based, as in splits.mat

# the test mapping: raw id -> NYU-40 id (every other raw id -> 40 otherprop)
MAP = {21: 1, 11: 2, 157: 4, 3: 23, 894: 25}


def _image(k):
    """Image k (0-based), H x W x 3: red grows down the rows, green along
    the columns, blue tells the images apart."""
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 0] = 20 * np.arange(H)[:, None]
    img[..., 1] = 15 * np.arange(W)[None, :]
    img[..., 2] = 10 * k + 5
    return img


def _raw_label():
    """H x W raw (894-class) ids, asymmetric: row 0 wall-ish, column 0
    floor-ish."""
    lab = np.full((H, W), 500, np.uint16)
    lab[0, :] = 21
    lab[:, 0] = 11
    lab[0, 0] = 0
    lab[5, 9] = 157
    lab[2, 3] = 3
    lab[H - 1, W - 1] = 894
    return lab


# what labels40/*.png must hold for _raw_label(), worked out by hand
LABEL40 = np.full((H, W), 40, np.uint8)
LABEL40[0, :] = 1
LABEL40[:, 0] = 2
LABEL40[0, 0] = 0
LABEL40[5, 9] = 4
LABEL40[2, 3] = 23
LABEL40[H - 1, W - 1] = 25


def _write_labeled(path, images=None, labels=None):
    """An HDF5 file laid out as nyu_depth_v2_labeled.mat: MATLAB v7.3 header
    in the user block, arrays in MATLAB's (transposed) order."""
    if images is None:
        images = np.stack([_image(k).transpose(2, 1, 0) for k in range(N)])
    if labels is None:
        labels = np.stack([_raw_label().T] * N)
    with h5py.File(path, 'w', userblock_size=512) as f:
        if images is not False:
            f.create_dataset('images', data=images)
        if labels is not False:
            f.create_dataset('labels', data=labels)
        f.create_dataset('depths', data=np.ones((N, W, H), np.float32))
    return _matlab73_header(path)


def _matlab73_header(path):
    """Write MATLAB's 128-byte v7.3 header into the HDF5 user block: 116
    bytes of text, 8 of subsystem offset, version 0x0200, 'IM'."""
    text = (b'MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: '
            b'Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .')
    with open(path, 'r+b') as f:
        f.write(text.ljust(116) + b' ' * 8 + b'\x00\x02IM')
    return str(path)


def _write_splits(path, train=TRAIN, test=TEST):
    mat = {key: np.array(ndx, float)[:, None]
           for key, ndx in (('trainNdxs', train), ('testNdxs', test))
           if ndx is not None}
    scipy.io.savemat(str(path), mat)
    return str(path)


def _write_mapping(path, size=894, classes=40):
    map_class = np.full((1, size), 40.0)
    for raw, nyu40 in MAP.items():
        if raw <= size:
            map_class[0, raw - 1] = nyu40
    names = np.empty((1, classes), object)
    for i in range(classes):
        names[0, i] = f'class{i + 1}'
    scipy.io.savemat(str(path), dict(mapClass=map_class, className=names))
    return str(path)


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp('nyu_in')
    return dict(labeled=_write_labeled(d / 'nyu_depth_v2_labeled.mat'),
                splits=_write_splits(d / 'splits.mat'),
                mapping=_write_mapping(d / 'classMapping40.mat'))


@pytest.fixture(scope='module')
def converted(inputs, tmp_path_factory):
    """The converter run as users run it (a subprocess)."""
    out = str(tmp_path_factory.mktemp('nyu_out') / 'nyuv2')
    res = run_tool([TOOL, inputs['labeled'], inputs['splits'],
                    inputs['mapping'], '--out', out], check=True)
    return out, res


def _tool():
    spec = importlib.util.spec_from_file_location(
        'nyuv2_converter', osp.join(ROOT, TOOL))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_layout_split_labels_and_orientation(converted):
    out, res = converted
    assert '4 train and 2 test images written' in res.stdout
    assert '6/6' in res.stdout       # the progress bar reached the end
    names = {s: [f'{i:04d}.png' for i in sorted(ids)]
             for s, ids in (('train', TRAIN), ('test', TEST))}
    assert sorted(os.listdir(out)) == ['images', 'labels40']
    for split in ('train', 'test'):
        assert sorted(os.listdir(osp.join(out, 'images', split))) == \
            names[split]
        assert sorted(os.listdir(osp.join(out, 'labels40', split))) == \
            names[split]
    for split, ids in (('train', TRAIN), ('test', TEST)):
        for i in ids:
            img = Image.open(osp.join(out, 'images', split, f'{i:04d}.png'))
            assert img.mode == 'RGB' and img.size == (W, H)
            np.testing.assert_array_equal(np.asarray(img), _image(i - 1))
            lab = Image.open(osp.join(out, 'labels40', split,
                                      f'{i:04d}.png'))
            assert lab.mode == 'L'
            np.testing.assert_array_equal(np.asarray(lab), LABEL40)


PIPELINE = [dict(type='mmseg.LoadImageFromFile'),
            dict(type='mmseg.LoadAnnotations')]


def test_nyuv2_dataset_reads_the_output_40_and_13(converted):
    from kdtools.datasets import NYU13_CLASSES, NYU40_CLASSES, NYUv2Dataset
    from kdtools.datasets.checks import check_dataset_cfg
    out, _ = converted
    for split in ('train', 'test'):
        check_dataset_cfg(
            dict(type='NYUv2Dataset', data_root=out,
                 data_prefix=dict(img_path=f'images/{split}',
                                  seg_map_path=f'labels40/{split}')),
            'val_dataloader.dataset')
    ds = NYUv2Dataset(data_root=out, pipeline=PIPELINE)
    assert len(ds) == 4 and ds.metainfo['classes'] == NYU40_CLASSES
    item = ds[0]                     # 0001.png: image 1, index 0
    assert item['img_path'].endswith('0001.png')
    np.testing.assert_array_equal(item['img'][..., ::-1], _image(0))  # BGR
    # 0-based NYU-40: unlabelled 255, wall 0, floor 1, bed 3, books 22,
    # television 24, otherprop 39
    seg = item['gt_seg_map']
    assert seg[0, 0] == 255 and seg[0, 5] == 0 and seg[7, 0] == 1
    assert seg[5, 9] == 3 and seg[2, 3] == 22 and seg[H - 1, W - 1] == 24
    assert seg[6, 6] == 39
    test = NYUv2Dataset(data_root=out, pipeline=PIPELINE,
                        data_prefix=dict(img_path='images/test',
                                         seg_map_path='labels40/test'))
    assert len(test) == 2
    np.testing.assert_array_equal(test[1]['img'][..., ::-1], _image(4))
    ds13 = NYUv2Dataset(data_root=out, pipeline=PIPELINE, num_classes=13)
    assert ds13.metainfo['classes'] == NYU13_CLASSES
    seg = ds13[0]['gt_seg_map']
    # 13 classes (0-based): wall 11, floor 4, bed 0, books 1, tv 10,
    # otherprop -> objects 6
    assert [seg[0, 0], seg[0, 5], seg[7, 0], seg[5, 9], seg[2, 3],
            seg[H - 1, W - 1], seg[6, 6]] == [255, 11, 4, 0, 1, 10, 6]
    assert [NYU13_CLASSES[i] for i in (11, 4, 0, 1, 10, 6)] == [
        'wall', 'floor', 'bed', 'books', 'tv', 'objects']


def _refused(capsys, argv, *expected):
    rc = _tool().main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1, err
    for text in expected:
        assert text in err, err
    return err


def test_bad_input_is_refused_in_one_line(inputs, tmp_path, capsys):
    lab, spl, mp = inputs['labeled'], inputs['splits'], inputs['mapping']
    out = str(tmp_path / 'out')

    def refused(argv, *expected):
        _refused(capsys, list(argv) + ['--out', out], *expected)
        assert not osp.exists(out)   # nothing written

    missing = str(tmp_path / 'nope.mat')
    refused([missing, spl, mp], missing, 'no such file',
            'nyu_depth_v2_labeled.mat')
    refused([lab, missing, mp], missing, 'splits.mat')
    refused([lab, spl, missing], missing, 'classMapping40.mat')
    # splits.mat (MATLAB v5) where the HDF5 file belongs
    refused([spl, spl, mp], spl, 'not an HDF5 file (MATLAB v7.3)')
    # an HDF5 file without labels; images in the wrong shape
    refused([_write_labeled(tmp_path / 'nolabels.mat', labels=False), spl,
             mp], 'nolabels.mat: no labels dataset')
    flat = np.zeros((N, W, H), np.uint8)
    refused([_write_labeled(tmp_path / 'flat.mat', images=flat), spl, mp],
            'flat.mat: images has shape (6, 16, 12)', 'N x 3 x W x H')
    wrong = np.stack([_raw_label()] * N)     # H x W: not as MATLAB stores
    refused([_write_labeled(tmp_path / 'wrong.mat', labels=wrong), spl, mp],
            'labels has shape (6, 12, 16)', 'images (6, 3, 16, 12)')
    # splits: a key missing, an index past the images
    refused([lab, _write_splits(tmp_path / 's1.mat', test=None), mp],
            's1.mat: no testNdxs', "['trainNdxs']")
    refused([lab, _write_splits(tmp_path / 's2.mat', test=[2, 7]), mp],
            's2.mat: testNdxs holds values from 2 to 7',
            '1-based whole indices into the 6 images')
    refused([lab, _write_splits(tmp_path / 's3.mat', test=[2, 4]), mp],
            'in both trainNdxs and testNdxs (e.g. 4)')
    # mapping: not 894 entries; the 13-class mapping instead of the 40
    refused([lab, spl, _write_mapping(tmp_path / 'm1.mat', size=40)],
            'm1.mat: mapClass has shape (1, 40)', '894 raw classes')
    refused([lab, spl, _write_mapping(tmp_path / 'm2.mat', classes=13)],
            'className lists 13 classes', 'not the 40-class mapping')
    refused([lab, spl, spl], 'splits.mat: no mapClass')
    # the labelled set (v7.3) where splits.mat belongs: read as HDF5
    refused([lab, lab, mp], 'no trainNdxs / testNdxs',
            "'depths', 'images', 'labels'")


def test_small_mat_files_saved_as_v73_are_read(tmp_path):
    """splits.mat re-saved by MATLAB with -v7.3 (HDF5, arrays transposed):
    read through h5py, same indices."""
    path = tmp_path / 'splits73.mat'
    with h5py.File(path, 'w', userblock_size=512) as f:
        f['trainNdxs'] = np.array(TRAIN, float)[None, :]
        f['testNdxs'] = np.array(TEST, float)[None, :]
    _matlab73_header(path)
    with pytest.raises(NotImplementedError):   # scipy sees MATLAB v7.3
        scipy.io.loadmat(str(path))
    assert _tool().read_splits(str(path), N) == dict(
        train=[0, 2, 3, 5], test=[1, 4])


def test_output_folder_needs_force(inputs, tmp_path, capsys):
    out = tmp_path / 'nyuv2'
    (out / 'images').mkdir(parents=True)
    (out / 'images' / 'stale.png').write_bytes(b'')
    (out / 'notes.txt').write_text('mine')
    argv = [inputs['labeled'], inputs['splits'], inputs['mapping'], '--out',
            str(out)]
    _refused(capsys, argv, f'--out {out}: folder is not empty', '--force')
    assert _tool().main(argv + ['--force']) == 0
    assert sorted(os.listdir(out / 'images')) == ['test', 'train']
    assert (out / 'notes.txt').read_text() == 'mine'
    assert len(os.listdir(out / 'labels40' / 'train')) == 4
