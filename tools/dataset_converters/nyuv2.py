#!/usr/bin/env python
"""Convert the official NYU Depth v2 labelled set into the folder layout
``NYUv2Dataset`` reads (kdtools/datasets/nyuv2_dataset.py)::

    OUT/images/{train,test}/<index>.png     RGB, 640x480
    OUT/labels40/{train,test}/<index>.png   uint8 NYU-40 ids, 0 = unlabelled

``<index>`` is the image's 1-based index in the .mat, zero-padded to 4
digits (the numbering of splits.mat). Labels are written once, as NYU-40
ids; ``NYUv2Dataset(num_classes=13)`` maps them to the 13-class set when
loading, so the same folder serves both settings.

The three inputs (docs/en/user_guides/datasets.md says where each comes
from):

- ``nyu_depth_v2_labeled.mat`` (Silberman et al., ECCV 2012; 2.8 GB,
  MATLAB v7.3, i.e. HDF5): ``images`` is stored N x 3 x W x H uint8 and
  ``labels`` N x W x H (the 894 raw class ids, 0 unlabelled), both
  transposed as MATLAB writes column-major arrays; each image is turned
  back to H x W x 3.
- ``splits.mat`` (MATLAB v5): ``trainNdxs`` (795) and ``testNdxs`` (654),
  1-based indices into the 1,449 images.
- ``classMapping40.mat`` (Gupta et al., CVPR 2013): ``mapClass``, the
  NYU-40 id of each of the 894 raw ids. This mapping exists only in that
  file, so it is required.

Example:
    python tools/dataset_converters/nyuv2.py nyu_depth_v2_labeled.mat \\
        splits.mat classMapping40.mat --out data/nyuv2
"""
import argparse
import os
import os.path as osp
import shutil
import sys

import numpy as np

NUM_RAW_CLASSES = 894
NUM_CLASSES = 40
SPLITS = ('train', 'test')
WHERE = {
    'labeled': 'nyu_depth_v2_labeled.mat from http://horatio.cs.nyu.edu/'
               'mit/silberman/nyu_depth_v2/nyu_depth_v2_labeled.mat',
    'splits': 'splits.mat from http://horatio.cs.nyu.edu/mit/silberman/'
              'indoor_seg_sup/splits.mat',
    'mapping': 'classMapping40.mat of Gupta et al. (CVPR 2013), e.g. '
               'https://github.com/ankurhanda/nyuv2-meta-data/raw/master/'
               'classMapping40.mat',
}


class ConvertError(Exception):
    """Bad input: reported in one line, exit status 2."""


def _need_file(path, what):
    if not osp.isfile(path):
        raise ConvertError(f'{path}: no such file; expected {WHERE[what]}')


def _load_small_mat(path, keys, what):
    """The numeric arrays ``keys`` of a small .mat file: MATLAB v5 through
    scipy, v7.3 (HDF5) through h5py (arrays transposed back to MATLAB's
    shape)."""
    _need_file(path, what)
    import scipy.io
    try:
        mat = scipy.io.loadmat(path)
    except NotImplementedError:  # MATLAB v7.3: HDF5
        import h5py
        try:
            with h5py.File(path, 'r') as f:
                mat = {k: None for k in f.keys()}
                mat.update({k: np.asarray(f[k]).T for k in keys
                            if isinstance(f.get(k), h5py.Dataset)})
        except OSError as e:
            raise ConvertError(f'{path}: cannot be read as a .mat file '
                               f'({e}); expected {WHERE[what]}') from None
    except Exception as e:  # not a .mat file at all
        raise ConvertError(f'{path}: not a MATLAB .mat file ({e}); expected '
                           f'{WHERE[what]}') from None
    missing = [k for k in keys if mat.get(k) is None]
    if missing:
        found = sorted(k for k in mat if not k.startswith('__'))
        raise ConvertError(f'{path}: no {" / ".join(missing)} (it holds '
                           f'{found}); expected {WHERE[what]}')
    return mat


def read_splits(path, num_images):
    """``{'train': [...], 'test': [...]}``: 0-based image indices."""
    mat = _load_small_mat(path, ('trainNdxs', 'testNdxs'), 'splits')
    splits = {}
    for split, key in zip(SPLITS, ('trainNdxs', 'testNdxs')):
        ndx = np.asarray(mat[key])
        if not np.issubdtype(ndx.dtype, np.number) or ndx.size == 0:
            raise ConvertError(f'{path}: {key} is not a list of image '
                               'indices; expected 1-based indices')
        ndx = ndx.reshape(-1)
        if not np.all(ndx == np.round(ndx)) or ndx.min() < 1 or \
                ndx.max() > num_images:
            raise ConvertError(
                f'{path}: {key} holds values from {ndx.min():g} to '
                f'{ndx.max():g}; expected 1-based whole indices into the '
                f'{num_images} images of the labelled .mat')
        ndx = ndx.astype(np.int64) - 1
        if len(np.unique(ndx)) != len(ndx):
            raise ConvertError(f'{path}: {key} lists an image twice; '
                               'expected each index once')
        splits[split] = sorted(ndx.tolist())
    both = set(splits['train']) & set(splits['test'])
    if both:
        raise ConvertError(
            f'{path}: {len(both)} images are in both trainNdxs and testNdxs '
            f'(e.g. {min(both) + 1}); expected disjoint splits')
    return splits


def read_mapping(path):
    """The look-up table raw id (0..894) -> NYU-40 id (0..40), uint8."""
    mat = _load_small_mat(path, ('mapClass', ), 'mapping')
    raw = np.asarray(mat['mapClass'])
    expected = (f'expected mapClass with the NYU-40 id (1..40) of each of '
                f'the {NUM_RAW_CLASSES} raw classes: {WHERE["mapping"]}')
    if not np.issubdtype(raw.dtype, np.number) or \
            raw.size != NUM_RAW_CLASSES:
        raise ConvertError(f'{path}: mapClass has shape {raw.shape}; '
                           f'{expected}')
    raw = raw.reshape(-1)
    if raw.min() < 0 or raw.max() > NUM_CLASSES or \
            not np.all(raw == np.round(raw)):
        raise ConvertError(f'{path}: mapClass holds values from '
                           f'{raw.min():g} to {raw.max():g}; {expected}')
    names = mat.get('className')
    if names is not None and np.size(names) != NUM_CLASSES:
        raise ConvertError(
            f'{path}: className lists {np.size(names)} classes, so this is '
            f'not the 40-class mapping; {expected}')
    return np.concatenate([[0], raw]).astype(np.uint8)


def open_labeled(path):
    """The open HDF5 file and its ``images`` / ``labels`` datasets, their
    shapes checked."""
    _need_file(path, 'labeled')
    import h5py
    try:
        # a chunk cache larger than h5py's 1 MiB default, so that reading
        # one image at a time does not decompress a chunk again per image
        f = h5py.File(path, 'r', rdcc_nbytes=64 * 1024**2)
    except OSError:
        raise ConvertError(
            f'{path}: not an HDF5 file (MATLAB v7.3); expected '
            f'{WHERE["labeled"]}') from None
    try:
        missing = [k for k in ('images', 'labels')
                   if not isinstance(f.get(k), h5py.Dataset)]
        if missing:
            raise ConvertError(
                f'{path}: no {" / ".join(missing)} dataset (it holds '
                f'{sorted(f.keys())[:8]}); expected {WHERE["labeled"]}')
        images, labels = f['images'], f['labels']
        layout = ('expected images N x 3 x W x H uint8 and labels N x W x H '
                  'integer ids, as MATLAB v7.3 stores 480x640 RGB images '
                  '(nyu_depth_v2_labeled.mat: 1449 x 3 x 640 x 480)')
        if images.ndim != 4 or images.shape[1] != 3 or \
                images.dtype != np.uint8:
            raise ConvertError(f'{path}: images has shape {images.shape} '
                               f'({images.dtype}); {layout}')
        if labels.ndim != 3 or labels.dtype.kind not in 'ui' or \
                labels.shape != (images.shape[0], ) + images.shape[2:]:
            raise ConvertError(f'{path}: labels has shape {labels.shape} '
                               f'({labels.dtype}) beside images '
                               f'{images.shape}; {layout}')
    except Exception:
        f.close()
        raise
    return f, images, labels


def prepare_out(out, force):
    """Refuse a non-empty ``out`` without ``force``; with it, replace the
    converter's own folders (images/, labels40/) and leave the rest."""
    if osp.exists(out) and not osp.isdir(out):
        raise ConvertError(f'--out {out}: is a file; expected a folder')
    if osp.isdir(out) and os.listdir(out):
        if not force:
            raise ConvertError(
                f'--out {out}: folder is not empty (holds '
                f'{sorted(os.listdir(out))[:5]}); expected an empty or new '
                'folder, or --force to replace its images/ and labels40/')
        for sub in ('images', 'labels40'):
            path = osp.join(out, sub)
            if osp.islink(path) or osp.isfile(path):
                os.remove(path)
            elif osp.isdir(path):
                shutil.rmtree(path)
    for sub in ('images', 'labels40'):
        for split in SPLITS:
            os.makedirs(osp.join(out, sub, split), exist_ok=True)


def convert(labeled, splits_file, mapping_file, out, force=False,
            file=sys.stdout):
    """Write the layout (module doc); return ``{split: count}``. All input
    is checked before anything is written."""
    from PIL import Image
    mapping = read_mapping(mapping_file)
    f, images, labels = open_labeled(labeled)
    with f:
        num = images.shape[0]
        splits = read_splits(splits_file, num)
        prepare_out(out, force)
        # in file order: sequential reads of the HDF5 datasets
        jobs = sorted((i, split) for split in SPLITS for i in splits[split])
        from mmengine.utils import ProgressBar
        print(f'converting {len(jobs)} of the {num} images in {labeled}',
              file=file)
        bar = ProgressBar(len(jobs), file=file)
        for i, split in jobs:
            name = f'{i + 1:04d}.png'
            # MATLAB column-major: 3 x W x H -> H x W x 3; W x H -> H x W
            img = np.ascontiguousarray(np.transpose(images[i], (2, 1, 0)))
            raw = np.asarray(labels[i]).T
            bad = raw[(raw < 0) | (raw > NUM_RAW_CLASSES)]
            if bad.size:
                raise ConvertError(
                    f'{labeled}: labels of image {i + 1} hold the id '
                    f'{bad.flat[0]}; expected '
                    f'raw class ids 0..{NUM_RAW_CLASSES} (the output in '
                    f'{out} is incomplete)')
            Image.fromarray(img).save(osp.join(out, 'images', split, name))
            Image.fromarray(mapping[raw]).save(
                osp.join(out, 'labels40', split, name))
            bar.update()
        file.write('\n')
    return {split: len(splits[split]) for split in SPLITS}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert the NYU Depth v2 labelled set '
        '(nyu_depth_v2_labeled.mat) into the layout NYUv2Dataset reads: '
        'images/{train,test}/*.png and labels40/{train,test}/*.png (NYU-40 '
        'ids; the 13-class set is mapped when loading, num_classes=13), on '
        'the standard 795/654 split.')
    parser.add_argument('labeled', help='nyu_depth_v2_labeled.mat (HDF5)')
    parser.add_argument('splits', help='splits.mat (trainNdxs, testNdxs)')
    parser.add_argument('mapping', help='classMapping40.mat (mapClass, the '
                        '894 -> 40 mapping of Gupta et al. 2013)')
    parser.add_argument('--out', default='data/nyuv2',
                        help='output folder (default data/nyuv2, where the '
                        'NYUv2 configs look)')
    parser.add_argument('--force', action='store_true',
                        help='write into a non-empty --out, replacing its '
                        'images/ and labels40/')
    args = parser.parse_args(argv)
    try:
        counts = convert(args.labeled, args.splits, args.mapping, args.out,
                         force=args.force)
    except ConvertError as e:
        print(f'nyuv2.py: error: {e}', file=sys.stderr)
        return 2
    print(f'{counts["train"]} train and {counts["test"]} test images '
          f'written to {args.out} (images/, labels40/: NYU-40 ids; '
          'NYUv2Dataset reads them with num_classes=40 or 13)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
