import logging
from typing import Dict, Optional

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from kdtools.registry import MODELS
from kdtools.utils.errors import ConfigError
from .base_head_distiller import (BaseHeadDistiller, HeadMismatch, build_loss,
                                  cat_levels, levels_to_flat,
                                  reduced_avg_factor, refuse_class_mismatch,
                                  soft_cls_kd)
from .vlr import VLR_IOU_MODES, select_vlr


@MODELS.register_module()
class GFLHeadDistiller(BaseHeadDistiller):
    """Head-level distillation for GFL-family students (``GFLHead``,
    ``LDHead`` and heads with their outputs and ``get_targets``), at the
    locations the student's own assigner picks:

    - ``loss_ld``: localization distillation (Zheng et al., CVPR 2022) on
      the main region (the positives): KL between teacher and student
      box-edge distributions with temperature, each location weighted by the
      student's top class score and divided by 4 (the four edges), as in the
      authors' code and mmdet's ``LDHead``;
    - ``loss_vlr_ld``: the same on the valuable localization region
      (:func:`select_vlr`; ``vlr=dict(pos_iou_thr, alpha, iou_mode)``,
      ``vlr=None`` switches the term off, e.g. ``--cfg-options
      model.head_distillers.ld.vlr=None`` for an ablation;
      where ``pos_iou_thr='atss'`` takes each box's adaptive threshold from
      the student's ``ATSSAssigner`` and its ``topk``, and the band bounds
      the DIoU (``iou_mode='diou'``), as the authors do), each location
      weighted by its IoU with the ground truth and divided by 16, as the
      authors' ``LDHead`` divides its VLR term (a quarter of the main
      region's per-box normaliser), so their configs' weights carry over.
      (Formerly ``loss_ld_vlr``, still accepted: mmengine's LogProcessor
      logs every key ending in ``lr`` as a learning rate, so that key was
      printed beside ``lr``, unsmoothed);
    - ``loss_cls_kd``: classification distillation (Chen et al. 2017, the
      sigmoid form of :class:`WeightedSoftCELoss`) on every location the
      head trains on, averaged like the head's own classification loss;
      the head's ``loss_cls`` is multiplied by the loss's ``mu``;
    - ``loss_bbox_kd``: Chen et al.'s teacher-bounded regression
      (:class:`TeacherBoundedRegressionLoss`) on the positives, on the
      expected edge distances (in strides) that GFL regresses.

    Shapes (per FPN level l, batch B, A priors per location):
    ``cls_scores[l]``: ``(B, A * C, H_l, W_l)``, ``bbox_preds[l]``:
    ``(B, A * 4 * (reg_max + 1), H_l, W_l)``; targets from ``get_targets``:
    ``(B, A * H_l * W_l, ...)``.

    The teacher's head must produce the same priors (strides, anchors) and
    ``reg_max``; otherwise the distiller refuses to build. Its number of
    classes may differ (as with mmdet's LD) unless ``loss_cls_kd`` is on,
    which compares class scores and refuses it, naming both counts.
    """

    def __init__(self,
                 loss_ld: Optional[dict] = None,
                 loss_vlr_ld: Optional[dict] = None,
                 loss_cls_kd: Optional[dict] = None,
                 loss_bbox_kd: Optional[dict] = None,
                 vlr: Optional[dict] = dict(pos_iou_thr='atss', alpha=0.25,
                                            iou_mode='diou'),
                 student_head: str = 'bbox_head',
                 teacher_head: Optional[str] = None,
                 loss_ld_vlr: Optional[dict] = None) -> None:
        super().__init__(student_head, teacher_head)
        if loss_ld_vlr is not None:
            if loss_vlr_ld is not None:
                raise ConfigError(
                    f'{type(self).__name__}: loss_ld_vlr is the former name '
                    'of loss_vlr_ld; give only loss_vlr_ld')
            print_log(f'{type(self).__name__}: loss_ld_vlr is now '
                      'loss_vlr_ld (keys ending in "lr" log as learning '
                      'rates); rename it in the config', logger='current',
                      level=logging.WARNING)
            loss_vlr_ld = loss_ld_vlr
        vlr_off = vlr is None and loss_vlr_ld is not None
        if vlr is None:  # VLR switched off
            loss_vlr_ld, vlr = None, {}
        if not any((loss_ld, loss_vlr_ld, loss_cls_kd, loss_bbox_kd)):
            raise ConfigError(
                f'{type(self).__name__}: no loss configured; give one of '
                'loss_ld, loss_vlr_ld, loss_cls_kd, loss_bbox_kd' +
                (' (vlr=None switched loss_vlr_ld off)' if vlr_off else ''))
        self.loss_ld = build_loss(loss_ld)
        self.loss_vlr_ld = build_loss(loss_vlr_ld)
        self.loss_cls_kd = build_loss(loss_cls_kd)
        self.loss_bbox_kd = build_loss(loss_bbox_kd)
        if self.loss_cls_kd is not None:
            if not getattr(self.loss_cls_kd, 'use_sigmoid', False):
                raise ConfigError(
                    f'{type(self).__name__}.loss_cls_kd: GFL classifies with '
                    'sigmoids; set use_sigmoid=True')
            self.mu = self.loss_cls_kd.mu
        vlr = dict(vlr)
        unknown = set(vlr) - {'pos_iou_thr', 'alpha', 'iou_mode'}
        if unknown:
            raise ConfigError(f'{type(self).__name__}.vlr: unknown keys '
                              f'{sorted(unknown)}; expected pos_iou_thr, '
                              'alpha, iou_mode')
        self.iou_mode = vlr.get('iou_mode', 'diou')
        if self.iou_mode not in VLR_IOU_MODES:
            raise ConfigError(
                f'{type(self).__name__}.vlr: iou_mode={self.iou_mode!r}; '
                f'expected one of {VLR_IOU_MODES}')
        self.pos_iou_thr = vlr.get('pos_iou_thr', 'atss')
        self.alpha = float(vlr.get('alpha', 0.25))
        thr_ok = self.pos_iou_thr == 'atss' or (
            isinstance(self.pos_iou_thr, (int, float))
            and 0 < self.pos_iou_thr <= 1)
        if not (0 < self.alpha <= 1 and thr_ok):
            raise ConfigError(
                f'{type(self).__name__}.vlr: pos_iou_thr='
                f'{self.pos_iou_thr!r}, alpha={self.alpha}; expected '
                "pos_iou_thr in (0, 1] or 'atss', alpha in (0, 1]")
        self.vlr_topk = None  # ATSS's topk, read in check() for 'atss'

    def check(self, student: nn.Module, teacher: nn.Module, teacher_name: str,
              owner: str) -> None:
        s_head = self.head_of(student, 'student', owner)
        t_head = self.head_of(teacher, 'teacher', owner)
        for side, head in (('student', s_head), (f'teachers.{teacher_name}',
                                                  t_head)):
            if not (hasattr(head, 'reg_max') and hasattr(head, 'integral')):
                raise ConfigError(
                    f'{owner}: {type(self).__name__} needs GFL-family heads '
                    f'(edge distributions, reg_max); the {side} head is '
                    f'{type(head).__name__}')
        refuse_class_mismatch(
            owner, teacher_name, s_head.num_classes, t_head.num_classes,
            ['loss_cls_kd' if self.loss_cls_kd is not None else None])
        diff = HeadMismatch(owner, teacher_name)
        diff.compare('reg_max', s_head.reg_max, t_head.reg_max)
        diff.compare_priors(s_head.prior_generator, t_head.prior_generator)
        diff.raise_if_any()
        if self.loss_vlr_ld is not None and self.pos_iou_thr == 'atss':
            topk = getattr(getattr(s_head, 'assigner', None), 'topk', None)
            if topk is None:
                raise ConfigError(
                    f"{owner}: vlr pos_iou_thr='atss' takes ATSS's topk "
                    'from the student head\'s assigner, which is '
                    f'{type(getattr(s_head, "assigner", None)).__name__}; '
                    'give a number instead')
            self.vlr_topk = int(topk)
        object.__setattr__(self, '_student_head_module', s_head)

    def loss(self, student, teacher, teacher_model,
             data_samples) -> Dict[str, Tensor]:
        head = self._student_head_module
        cls_s, reg_s = student['outs']
        cls_t, reg_t = teacher['outs']
        anchors, labels, label_w, bbox_targets, _, avg_factor = \
            student['targets']
        num_classes, bins = head.cls_out_channels, head.reg_max + 1
        level_sizes = [a.shape[1] for a in anchors]
        anchors = cat_levels(anchors)  # (B, N, 4)
        labels = cat_levels(labels)
        label_w = cat_levels(label_w)
        strides = torch.cat([
            anchors.new_full((n, ), float(s[0]))
            for n, s in zip(level_sizes, head.prior_generator.strides)])
        cls_s = levels_to_flat(cls_s, num_classes)
        reg_s = levels_to_flat(reg_s, 4 * bins)
        reg_t = levels_to_flat(reg_t, 4 * bins)
        pos = (labels >= 0) & (labels < head.num_classes)
        avg_factor = reduced_avg_factor(avg_factor, cls_s.device)

        losses = {}
        if self.loss_ld is not None:
            score = cls_s[pos].detach().sigmoid().max(dim=-1)[0]
            losses['loss_ld'] = self.loss_ld(
                reg_s[pos].reshape(-1, bins), reg_t[pos].reshape(-1, bins),
                weight=score[:, None].expand(-1, 4).reshape(-1),
                avg_factor=4.0)
        if self.loss_vlr_ld is not None:
            gts = [ds.gt_instances.bboxes for ds in data_samples]
            gts = [getattr(g, 'tensor', g) for g in gts]
            region, iou = select_vlr(anchors, gts, pos, label_w > 0,
                                     self.pos_iou_thr, self.alpha,
                                     level_sizes, self.vlr_topk,
                                     self.iou_mode)
            losses['loss_vlr_ld'] = self.loss_vlr_ld(
                reg_s[region].reshape(-1, bins),
                reg_t[region].reshape(-1, bins),
                weight=iou[region][:, None].expand(-1, 4).reshape(-1),
                avg_factor=16.0)
        if self.loss_cls_kd is not None:
            valid = label_w > 0
            cls_t = levels_to_flat(cls_t, num_classes)
            losses['loss_cls_kd'] = soft_cls_kd(
                self.loss_cls_kd, cls_s[valid], cls_t[valid], labels[valid],
                label_w[valid], avg_factor)
        if self.loss_bbox_kd is not None:
            bbox_targets = cat_levels(bbox_targets)
            stride = strides.expand(pos.shape[0], -1)[pos][:, None]
            centers = head.anchor_center(anchors[pos]) / stride
            target = head.bbox_coder.encode(
                centers, bbox_targets[pos] / stride, head.reg_max)
            dist_s = head.integral(reg_s[pos])
            dist_t = head.integral(reg_t[pos])
            losses['loss_bbox_kd'] = self.loss_bbox_kd(
                dist_s, dist_t, target, avg_factor=avg_factor)
        return losses
