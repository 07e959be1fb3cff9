"""The deployable student: a plain MMLab model (or a distillation config's
student) wrapped so that it takes the tensor its data preprocessor produces
(normalised, padded, NCHW float) and returns plain tensors, the graph that
is exported to ONNX, timed and counted (mmdeploy's convention).

- classification (mmpretrain): the logits, ``(N, num_classes)``;
- segmentation (mmseg encoder-decoder): the segmentation logits resized to
  the input tensor's size, ``(N, num_classes, H, W)``, as the decode head's
  ``predict_by_feat`` gives them before mmseg crops the padding and resizes
  to the original image;
- detection (mmdet one-stage detectors): the head's raw outputs per level
  (backbone + neck + head, mmdeploy's partition), flattened in the order of
  the head's ``predict_by_feat`` arguments: ``cls_scores_0..L-1``,
  ``bbox_preds_0..L-1`` (and ``score_factors_*`` / ``objectnesses_*`` for
  heads that have them). Decoding and NMS stay in Python (``predict_by_feat``
  of the mmdet head).
"""
import copy
import inspect
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import nn

from kdtools.utils.config import load_config
from kdtools.utils.errors import ConfigError

TASKS = ('cls', 'seg', 'det')


def task_of(model: nn.Module) -> str:
    """'det', 'seg' or 'cls' from the model's base class."""
    from mmdet.models.detectors import BaseDetector
    from mmpretrain.models.classifiers import BaseClassifier
    from mmseg.models.segmentors import BaseSegmentor
    if isinstance(model, BaseDetector):
        return 'det'
    if isinstance(model, BaseSegmentor):
        return 'seg'
    if isinstance(model, BaseClassifier):
        return 'cls'
    raise ConfigError(f'model {type(model).__name__} is not an mmdet '
                      'detector, an mmseg segmentor or an mmpretrain '
                      'classifier: it has no deployment graph here')


def plain_config(config, cfg_options: Optional[dict] = None):
    """The plain model's config: ``config`` itself, or a distillation
    config's student config (:func:`student_config`)."""
    from kdtools.models.distillers.export import (DISTILLER_TYPES,
                                                  student_config)
    cfg = load_config(config, cfg_options)
    kind = str(cfg.model.get('type', '')).split('.')[-1]
    if kind in DISTILLER_TYPES:
        cfg = student_config(cfg)
    return cfg


def _no_pretrained(model_cfg: dict) -> dict:
    """The model dict without ``init_cfg`` loads (weights come from the
    checkpoint; a pretrained file the config names need not exist)."""
    model_cfg = copy.deepcopy(model_cfg)
    model_cfg.pop('init_cfg', None)
    for key in ('backbone', 'neck', 'decode_head', 'bbox_head', 'head'):
        sub = model_cfg.get(key)
        if isinstance(sub, dict) and isinstance(sub.get('init_cfg'), dict) \
                and sub['init_cfg'].get('type') == 'Pretrained':
            sub['init_cfg'] = None
    return model_cfg


def build_plain_model(config, checkpoint: Optional[str] = None,
                      cfg_options: Optional[dict] = None,
                      trusted: Optional[bool] = None):
    """``(model, cfg)``: the plain model of ``config`` (a distillation
    config: its student) in eval mode, with ``checkpoint`` (plain or
    distiller; the student's weights) loaded strictly when given."""
    from mmengine.registry import DefaultScope

    from kdtools.models.distillers.teacher import load_strict
    cfg = plain_config(config, cfg_options)
    scope = cfg.get('default_scope') or 'kdtools'
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(_no_pretrained(cfg.model))
    if checkpoint is not None:
        load_strict(model, checkpoint, 'model', trusted=trusted)
    model.eval()
    return model, cfg


class DeployModel(nn.Module):
    """``model`` as a function of the preprocessed input tensor; see the
    module's docstring for what each task returns."""

    def __init__(self, model: nn.Module, task: Optional[str] = None):
        super().__init__()
        self.model = model
        self.task = task or task_of(model)
        self.output_groups: List[str] = []
        if self.task == 'det':
            from mmdet.models.detectors import SingleStageDetector
            if not isinstance(model, SingleStageDetector) or \
                    not hasattr(model, 'bbox_head'):
                raise ConfigError(
                    f'{type(model).__name__}: only one-stage detectors '
                    '(backbone + neck + dense head) are exported; a two-stage '
                    'or query-based detector needs its proposals or queries '
                    'decoded between the stages, which is not exported')
            params = list(inspect.signature(
                model.bbox_head.predict_by_feat).parameters)
            self._arg_names = params[:params.index('batch_img_metas')] \
                if 'batch_img_metas' in params else params
        self.levels = None  # detection: set by the first forward

    def forward(self, inputs: torch.Tensor):
        if self.task == 'cls':
            out = self.model(inputs, mode='tensor')
            return out[-1] if isinstance(out, (tuple, list)) else out
        if self.task == 'seg':
            logits = self.model._forward(inputs)
            align = getattr(self.model.decode_head, 'align_corners', False)
            return F.interpolate(logits, size=inputs.shape[2:],
                                 mode='bilinear', align_corners=align)
        outs = self.model._forward(inputs)
        self.levels = len(outs[0])
        # named after the head's predict_by_feat arguments they fill
        self.output_groups = list(self._arg_names[:len(outs)])
        return tuple(t for group in outs for t in group)

    def output_names(self) -> List[str]:
        if self.task == 'cls':
            return ['logits']
        if self.task == 'seg':
            return ['seg_logits']
        assert self.levels is not None, 'run a forward first'
        groups = self.output_groups
        return [f'{g}_{i}' for g in groups for i in range(self.levels)]

    def group(self, outputs: Sequence) -> Tuple[list, ...]:
        """Detection: the flat outputs regrouped per ``predict_by_feat``
        argument (lists of per-level tensors)."""
        n = self.levels
        return tuple(list(outputs[i * n:(i + 1) * n])
                     for i in range(len(outputs) // n))


def preprocess_info(cfg, model: nn.Module) -> dict:
    """What a deployment must do to an image before the graph: the data
    preprocessor's settings, under one naming for the three libraries."""
    pre = dict(cfg.model.get('data_preprocessor') or {})
    dp = model.data_preprocessor

    def as_list(v):
        if v is None:
            return None
        if torch.is_tensor(v):
            return [float(x) for x in v.flatten()]
        return [float(x) for x in v]
    mean = pre.get('mean', getattr(dp, 'mean', None))
    std = pre.get('std', getattr(dp, 'std', None))
    bgr_to_rgb = bool(pre.get('bgr_to_rgb', pre.get('to_rgb', False)))
    divisor = pre.get('pad_size_divisor', pre.get('size_divisor'))
    pad = pre.get('pad_value', pre.get('pad_val', 0))
    return dict(
        mean=as_list(mean), std=as_list(std), bgr_to_rgb=bgr_to_rgb,
        pad_size_divisor=divisor or 1, pad_value=pad,
        fixed_size=list(pre['size']) if pre.get('size') else None,
        data_preprocessor={k: v for k, v in pre.items()},
        note='images are read as BGR uint8 (mmcv); convert to RGB when '
        'bgr_to_rgb, then (x - mean) / std, then pad bottom/right with '
        'pad_value to a multiple of pad_size_divisor; NCHW float32')


def _loader_cfg(cfg, batch_size: int) -> dict:
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    if not loader:
        raise ConfigError('the config has no test_dataloader or '
                          'val_dataloader to read images from')
    loader = copy.deepcopy(dict(loader))
    loader.update(batch_size=batch_size, num_workers=0,
                  persistent_workers=False)
    loader.pop('batch_sampler', None)
    loader['sampler'] = dict(type='DefaultSampler', shuffle=False)
    return loader


def val_batches(cfg, model: nn.Module, batch_size: int = 1,
                limit: Optional[int] = None):
    """Yield ``(inputs, data_samples)`` of the config's test (else val)
    images as the model's data preprocessor gives them (test mode),
    ``limit`` images at most."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    scope = cfg.get('default_scope') or 'kdtools'
    with DefaultScope.overwrite_default_scope(scope):
        loader = Runner.build_dataloader(_loader_cfg(cfg, batch_size))
    seen = 0
    with torch.no_grad():
        for batch in loader:
            if limit is not None and seen >= limit:
                return
            data = model.data_preprocessor(batch, False)
            inputs, samples = data['inputs'], data['data_samples']
            if limit is not None and seen + len(inputs) > limit:
                keep = limit - seen
                inputs, samples = inputs[:keep], samples[:keep]
            seen += len(inputs)
            yield inputs, samples


def _pipeline_shape(cfg) -> Optional[Tuple[int, int]]:
    """(H, W) the test pipeline resizes or crops to, or None."""
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    pipeline = (loader.get('dataset') or {}).get('pipeline') or []
    shape = None
    for t in pipeline:
        name = str(t.get('type', '')).split('.')[-1]
        size = t.get('crop_size') if 'Crop' in name else None
        if size is None and 'Resize' in name:
            size = t.get('scale')
            if isinstance(size, (list, tuple)) and len(size) == 2:
                size = (size[1], size[0])  # MMLab scales are (w, h)
        if size is None and name == 'ResizeEdge':
            size = t.get('scale')
        if isinstance(size, int):
            size = (size, size)
        if isinstance(size, (list, tuple)) and len(size) == 2:
            shape = (int(size[0]), int(size[1]))
    return shape


def input_shape_of(cfg, model: nn.Module,
                     shape: Optional[Sequence[int]] = None):
    """``((H, W), how)``: the input tensor size at test time. ``shape``
    given (``--shape``): padded to the preprocessor's divisor as its
    padding would; else the first test image as the preprocessor gives it;
    else (no images on disk) the test pipeline's resize / crop size,
    padded."""
    divisor = preprocess_info(cfg, model)['pad_size_divisor'] or 1

    def padded(hw):
        return tuple(-(-int(v) // divisor) * divisor for v in hw)
    if shape:
        hw = (shape[0], shape[-1]) if len(shape) <= 2 else shape[-2:]
        return padded(hw), f'--shape {hw[0]} {hw[1]}'
    try:
        inputs, _ = next(val_batches(cfg, model, 1, 1))
        return tuple(inputs.shape[2:]), 'the first test image'
    except Exception as e:  # noqa: BLE001 - no data on disk: the pipeline
        hw = _pipeline_shape(cfg)
        if hw is None:
            raise ConfigError(
                f'no test image could be read ({type(e).__name__}: {e}) and '
                'the test pipeline names no resize or crop size: pass '
                '--shape H W') from None
        return padded(hw), 'the test pipeline\'s resize / crop size'
