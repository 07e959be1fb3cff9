#!/usr/bin/env python
"""Export a plain student (or a distillation config's student) to ONNX and
check it against PyTorch with ONNX Runtime on the config's test images.

The graph takes the tensor the model's data preprocessor produces
(normalised, padded, NCHW float32), mmdeploy's convention; the
preprocessing settings, the input and output names, the opset and the
dynamic axes are written beside OUT as OUT's name with ``.json``.
Classification: logits; segmentation: segmentation logits at the input
size; detection (one-stage): the head's raw outputs per level, to decode
with the mmdet head's ``predict_by_feat`` (NMS is not in the graph).

Example:
    python tools/deployment/pytorch2onnx.py \\
        work_dirs/hint_student/student.py work_dirs/hint_student/student.pth \\
        work_dirs/hint_student/student.onnx
    # writes student.onnx and student.json, then compares ONNX Runtime with
    # PyTorch on 8 test images
"""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)


def parse_args(argv=None):
    from mmengine.config import DictAction

    from kdtools.deployment.onnx_export import DEFAULT_OPSET
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='a plain model config, or a '
                        'distillation config (its student is exported)')
    parser.add_argument('checkpoint', help='the plain checkpoint, or a '
                        'distiller checkpoint (its student.* weights)')
    parser.add_argument('out', help='the ONNX file to write, ending in '
                        '.onnx; the settings go beside it as .json')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET,
                        help=f'ONNX opset (default {DEFAULT_OPSET})')
    parser.add_argument('--shape', type=int, nargs='+', metavar='N',
                        help='the input height and width to trace at (one '
                        'number: square), padded to the preprocessor\'s '
                        'size divisor; default: the first test image as the '
                        'data preprocessor gives it')
    parser.add_argument('--verify', type=int, default=8, metavar='N',
                        help='compare ONNX Runtime with PyTorch on the first '
                        'N test images (0: skip; default 8)')
    parser.add_argument('--force', action='store_true',
                        help='overwrite OUT and its .json if they exist')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='allow full unpickling of CHECKPOINT (only for '
                        'files you trust)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value')
    args = parser.parse_args(argv)
    if args.shape is not None and len(args.shape) not in (1, 2):
        parser.error(f'--shape takes H W or one size, got {args.shape}')
    return args


def export(args):
    """Build, export and verify; returns the JSON written beside OUT (with
    the parity report under ``parity``)."""
    import torch

    from kdtools.deployment import (DeployModel, build_plain_model,
                                    input_shape_of, preprocess_info,
                                    val_batches)
    from kdtools.deployment.onnx_export import ExportError, export_onnx
    from kdtools.deployment.runtime import ort_session, parity
    from kdtools.utils import trust_checkpoints
    from kdtools.utils.errors import CheckpointError
    if args.trust_checkpoint:
        trust_checkpoints([args.checkpoint])
    if not osp.isfile(args.checkpoint):
        raise CheckpointError(f'checkpoint {args.checkpoint!r} does not '
                              'exist')
    from kdtools.deployment.onnx_export import onnx_paths
    onnx_paths(args.out, args.force)  # refuse before building anything
    model, cfg = build_plain_model(args.config, args.checkpoint,
                                   args.cfg_options)
    wrapper = DeployModel(model)
    hw, how = input_shape_of(cfg, model, args.shape)
    pre = preprocess_info(cfg, model)
    pre['test_input_shape'] = list(hw)
    pre['test_input_shape_from'] = how
    pipeline = (cfg.get('test_dataloader') or {}).get('dataset', {}).get(
        'pipeline')
    meta = dict(task=wrapper.task, preprocess=pre, test_pipeline=pipeline,
                config=osp.abspath(args.config),
                checkpoint=osp.abspath(args.checkpoint))
    if wrapper.task == 'det':
        meta['decode'] = (f'{type(model.bbox_head).__name__}.predict_by_feat'
                          f'({", ".join(wrapper.output_groups)}, '
                          'batch_img_metas, rescale=True): score threshold '
                          'and NMS from the config\'s test_cfg, not in the '
                          'graph')
    elif wrapper.task == 'seg':
        meta['decode'] = ('argmax over classes; crop the padding and resize '
                          'to the original image (mmseg postprocess_result), '
                          'not in the graph')
    else:
        meta['decode'] = 'softmax / argmax over classes, not in the graph'
    g = torch.Generator().manual_seed(0)
    inputs = torch.randn(1, 3, *hw, generator=g)
    info = export_onnx(wrapper, inputs, args.out, opset=args.opset,
                       meta=meta, force=args.force,
                       divisor=pre['pad_size_divisor'])
    if args.verify > 0:
        rep = parity(wrapper, ort_session(args.out),
                     val_batches(cfg, model, batch_size=min(args.verify, 4),
                                 limit=args.verify))
        info['parity'] = rep
        if not rep['ok']:
            raise ExportError(
                f'ONNX Runtime does not match PyTorch on {rep["images"]} '
                f'test images: {_summary(rep)} ({args.out} is kept for '
                'inspection)')
    return info


def _summary(rep) -> str:
    s = (f'max |onnx - torch| {rep["max_abs_diff"]:.2e} (within rtol '
         f'{rep["rtol"]:g} + atol {rep["atol"]:g}: '
         f'{"yes" if rep["outputs_ok"] else "no"})')
    if 'boxes' in rep:
        s += (f'; {rep["boxes"]} boxes decoded by predict_by_feat '
              f'{"the same" if rep["boxes_ok"] else "DIFFER"} (max box '
              f'diff {rep["max_box_diff"]:.2e} px, score '
              f'{rep["max_score_diff"]:.2e})')
    else:
        what = 'pixels' if rep.get('task') == 'seg' else 'images'
        s += (f'; argmax the same for {rep["labels_same"]}/{rep["labels"]} '
              f'{what}')
    return s


def main(argv=None):
    args = parse_args(argv)
    from kdtools.utils import KDToolsError, register_all_modules
    register_all_modules()
    try:
        info = export(args)
    except KDToolsError as e:
        print(f'kdtools: error: {e}', file=sys.stderr)
        sys.exit(2)
    meta = osp.splitext(args.out)[0] + '.json'
    shape = info['input']['shape']
    print(f'ONNX model:    {args.out} (opset {info["opset"]}, input '
          f'{info["input"]["name"]} {shape}, outputs '
          f'{", ".join(info["outputs"])})')
    print(f'preprocessing: {meta}')
    if 'parity' in info:
        rep = info['parity']
        print(f'parity on {rep["images"]} test images: OK, '
              f'{_summary(rep)}')
    return info


if __name__ == '__main__':
    main()
