#!/usr/bin/env python
"""Copy an embedded detection set with annotation noise on its training
boxes: each edge of each training box moves by a Gaussian amount whose
standard deviation is ``--sigma`` times the box's side along that edge
(width for the left and right edges, height for the top and bottom), as
annotators disagree on where an object ends (the ambiguous boxes that
localization distillation is meant for). The val annotations are copied
unchanged, so a model is scored against the exact boxes; the images are
linked, not copied.

Example:
    python tools/dataset_converters/jitter_boxes.py data/toy \\
        data/toy-boxnoise --sigma 0.1
    python tools/dataset_converters/make_toy_data.py --out data/toy-seed1 \\
        --seed 1 --tasks det
    python tools/dataset_converters/jitter_boxes.py data/toy-seed1 \\
        data/toy-seed1-boxnoise --sigma 0.1 --seed 1
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys

import numpy as np


def jitter_box(box, sigma, rng, width, height):
    """A COCO ``[x, y, w, h]`` box with each edge moved by
    ``N(0, sigma * side)``, kept inside the image and at least 1 pixel wide
    and high."""
    x, y, w, h = box
    dx0, dx1 = rng.normal(0.0, sigma * w, size=2)
    dy0, dy1 = rng.normal(0.0, sigma * h, size=2)
    x0 = min(max(x + dx0, 0.0), width - 1.0)
    y0 = min(max(y + dy0, 0.0), height - 1.0)
    x1 = min(max(x + w + dx1, x0 + 1.0), float(width))
    y1 = min(max(y + h + dy1, y0 + 1.0), float(height))
    return [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)]


def jitter_boxes(src, out, sigma, seed=0):
    """Write ``out``: ``src``'s embedded detection set with its training
    boxes jittered (see the module doc); returns the number of boxes
    moved."""
    det = osp.join(src, 'det')
    if not osp.isfile(osp.join(det, 'annotations', 'instances_train.json')):
        raise FileNotFoundError(
            f'{src}: no det/annotations/instances_train.json; expected an '
            'embedded set (python '
            'tools/dataset_converters/make_toy_data.py --out ' + src +
            ' --tasks det)')
    if osp.abspath(src) == osp.abspath(out):
        raise ValueError(f'{out} is the source set itself; expected another '
                         'folder')
    os.makedirs(osp.join(out, 'det', 'annotations'), exist_ok=True)
    for split in ('train', 'val'):
        link = osp.join(out, 'det', split)
        if not osp.lexists(link):
            os.symlink(osp.abspath(osp.join(det, split)), link)
    shutil.copyfile(osp.join(det, 'annotations', 'instances_val.json'),
                    osp.join(out, 'det', 'annotations', 'instances_val.json'))
    with open(osp.join(det, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    sizes = {im['id']: (im['width'], im['height']) for im in coco['images']}
    rng = np.random.default_rng(seed)
    for ann in coco['annotations']:
        ann['bbox'] = jitter_box(ann['bbox'], sigma, rng,
                                 *sizes[ann['image_id']])
    noise = dict(sigma=sigma, seed=seed, source=osp.abspath(src))
    coco['info'] = dict(coco.get('info', {}), box_noise=noise)
    with open(osp.join(out, 'det', 'annotations', 'instances_train.json'),
              'w') as f:
        json.dump(coco, f, sort_keys=True)
    meta_src = osp.join(src, 'meta.json')
    meta = {}
    if osp.isfile(meta_src):
        with open(meta_src) as f:
            meta = json.load(f)
    meta['box_noise'] = noise
    with open(osp.join(out, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2, sort_keys=True)
    return len(coco['annotations'])


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Copy an embedded detection set with Gaussian noise on '
        "each training box's edges (std = SIGMA x the box's side); val "
        'boxes unchanged, images linked.')
    parser.add_argument('src', help='an embedded set, e.g. data/toy')
    parser.add_argument('out', help='the folder to write')
    parser.add_argument('--sigma', type=float, default=0.1,
                        help="edge noise as a fraction of the box's side "
                        '(default 0.1)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if not 0 < args.sigma < 1:
        parser.error(f'--sigma {args.sigma}: expected a fraction of the '
                     'box side between 0 and 1')
    try:
        n = jitter_boxes(args.src, args.out, args.sigma, args.seed)
    except (FileNotFoundError, ValueError) as e:
        parser.error(str(e))
    print(f'{n} training boxes jittered (sigma {args.sigma}) into {args.out}')


if __name__ == '__main__':
    sys.exit(main())
