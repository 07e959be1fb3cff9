#!/usr/bin/env python
"""FLOPs, activations and parameters of a model at its test input size,
counted by mmengine's complexity analyzer (as mmdet's / mmseg's
``get_flops.py``) on the graph the model is deployed as: the logits
(classification), the segmentation logits at the input size
(segmentation), the head's raw outputs per level (detection: no
decoding or NMS). One multiply-add is one FLOP.

CONFIG is a plain model config (a student's, a teacher's) or a
distillation config: then its student is counted. Without ``--shape`` the
input is each of the first ``--num-images`` test images as the data
preprocessor gives it (mmdet's way; the mean is printed), or, with no
images on disk, the test pipeline's resize / crop size.

Examples:
    python tools/analysis_tools/get_flops.py \\
        configs/det/gfl_r18-base16_fpn_12e_toydet.py
    python tools/analysis_tools/get_flops.py \\
        configs/det/hint/hint_fpn_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py \\
        --shape 800 1333
"""
import argparse
import json
import os.path as osp
import statistics
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='a model config or a distillation '
                        'config (its student)')
    parser.add_argument('--shape', type=int, nargs='+', metavar='N',
                        help='input height and width (one number: square), '
                        'padded to the preprocessor\'s size divisor')
    parser.add_argument('--num-images', type=int, default=10,
                        help='test images averaged over when --shape is not '
                        'given (default 10)')
    parser.add_argument('--json', metavar='PATH',
                        help='also write the figures to PATH')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value')
    args = parser.parse_args(argv)
    if args.shape is not None and len(args.shape) not in (1, 2):
        parser.error(f'--shape takes H W or one size, got {args.shape}')
    if args.num_images < 1:
        parser.error('--num-images must be at least 1')
    return args


def count(config, shape=None, num_images=10, cfg_options=None,
          model=None, cfg=None) -> dict:
    """The figures :func:`main` prints, as a dict (``flops``,
    ``activations``, ``params``, ``input_shape``, ``input_from``; the mean
    over the images counted)."""
    import torch

    from kdtools.deployment import (DeployModel, build_plain_model,
                                    complexity, input_shape_of, val_batches)
    if model is None:
        model, cfg = build_plain_model(config, None, cfg_options)
    wrapper = DeployModel(model)
    results, how = [], None
    if shape is None:
        try:
            for inputs, _ in val_batches(cfg, model, 1, num_images):
                results.append(complexity(wrapper, inputs))
            how = f'{len(results)} test image(s) as preprocessed'
        except Exception:  # noqa: BLE001 - no images: the pipeline's size
            results = []
    if not results:
        hw, how = input_shape_of(cfg, model, shape)
        g = torch.Generator().manual_seed(0)
        results = [complexity(wrapper,
                              torch.randn(1, 3, *hw, generator=g))]
    shapes = sorted({tuple(r['input_shape']) for r in results})
    unsupported = {}
    for r in results:
        for k, v in r['unsupported_ops'].items():
            unsupported[k] = max(unsupported.get(k, 0), v)
    return dict(
        task=wrapper.task, model=type(model).__name__,
        flops=statistics.mean(r['flops'] for r in results),
        activations=statistics.mean(r['activations'] for r in results),
        params=results[0]['params'],
        input_shape=list(shapes[0]) if len(shapes) == 1 else
        [list(s) for s in shapes], input_from=how,
        unsupported_ops=unsupported)


def main(argv=None):
    args = parse_args(argv)
    from kdtools.deployment.complexity import fmt
    from kdtools.utils import KDToolsError, register_all_modules
    register_all_modules()
    try:
        res = count(args.config, args.shape, args.num_images,
                    args.cfg_options)
    except KDToolsError as e:
        print(f'kdtools: error: {e}', file=sys.stderr)
        sys.exit(2)
    line = '=' * 30
    print(f'{line}\nModel: {res["model"]} ({res["task"]}), counted on the '
          f'deployed graph\nInput shape: {res["input_shape"]} (from '
          f'{res["input_from"]})\nFlops: {fmt(res["flops"])}\n'
          f'Activations: {fmt(res["activations"])}\n'
          f'Params: {fmt(res["params"])}\n{line}')
    if res['unsupported_ops']:
        print('not counted (mmengine has no handle; element-wise or '
              'cheap): ' + ', '.join(f'{k} x{v}' for k, v in
                                     sorted(res['unsupported_ops'].items())))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2)
    return res


if __name__ == '__main__':
    main()
