"""Running a model only as far as its recorders need (backbone,
backbone + neck, the dense heads, or the whole ``tensor`` mode): how teachers
run every step, the dummy forward at build time, and a student whose task
losses are off."""
from typing import Iterable, Sequence

import torch


def forward_to(model, inputs, data_samples, sources: Iterable[str]) -> None:
    """Run ``model`` only as far as the recorded modules need."""
    roots = {s.split('.')[0] for s in sources}
    if not roots:
        return
    if roots <= {'backbone'} and hasattr(model, 'backbone'):
        model.backbone(inputs)
    elif roots <= {'backbone', 'neck'} and hasattr(model, 'extract_feat'):
        model.extract_feat(inputs)
    elif roots <= {'backbone', 'neck', 'rpn_head', 'bbox_head'} and \
            hasattr(model, 'extract_feat') and \
            all(hasattr(model, r) for r in roots):
        # detectors: features, then the dense heads called as modules
        # (mmdet's 'tensor' mode calls head.forward, bypassing hooks)
        feats = model.extract_feat(inputs)
        for head in ('rpn_head', 'bbox_head'):
            if head in roots:
                getattr(model, head)(feats)
    else:
        model(inputs, data_samples, mode='tensor')


def random_batch(n: int, input_shape: Sequence[int], device='cpu'):
    """A fixed random dummy batch ``(n, *input_shape)`` on ``device`` (seed
    0, whatever the global random state): what the build-time timings and
    checks of the teachers run on."""
    g = torch.Generator().manual_seed(0)
    return torch.randn((n, ) + tuple(input_shape), generator=g).to(device)
