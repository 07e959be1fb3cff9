from typing import Dict, Optional

import torch
from torch import Tensor, nn

from kdtools.registry import MODELS
from kdtools.utils.errors import ConfigError
from .base_head_distiller import (BaseHeadDistiller, HeadMismatch,
                                  refuse_decoded_boxes, soft_cls_kd)


@MODELS.register_module()
class RoIHeadDistiller(BaseHeadDistiller):
    """Chen et al. (NeurIPS 2017) distillation of the R-CNN head of a
    two-stage student (mmdet ``StandardRoIHead``): the teacher's RoI head is
    run on the student's sampled RoIs (same boxes, same order) over the
    teacher's own features, so both outputs describe the same boxes:

    - ``loss_cls_kd``: :class:`WeightedSoftCELoss` (softmax, background
      last, larger background weight) over the sampled RoIs, averaged like
      the head's cross-entropy; the head's ``loss_cls`` is multiplied by the
      loss's ``mu``;
    - ``loss_bbox_kd``: :class:`TeacherBoundedRegressionLoss` on the
      positive RoIs, on the deltas of the ground-truth class (class-specific
      regression) or the single box (class-agnostic), with the head's own
      average factor (the number of sampled RoIs).

    Shapes: ``rois``: ``(R, 5)`` (batch index, ``xyxy``); ``cls_score``:
    ``(R, C + 1)``; ``bbox_pred``: ``(R, 4 * C)`` or ``(R, 4)``; targets
    from ``bbox_head.get_targets``: ``(R, )`` labels, ``(R, 4)`` deltas.

    Args:
        loss_cls_kd (dict, optional): the classification KD loss.
        loss_bbox_kd (dict, optional): the bounded regression loss.
        student_head (str): the student's RoI head.
        teacher_head (str, optional): the teacher's RoI head.
        teacher_feats (str): the teacher module whose outputs the RoI head
            reads (``'neck'``; ``'backbone'`` for a detector without one).
    """

    def __init__(self,
                 loss_cls_kd: Optional[dict] = None,
                 loss_bbox_kd: Optional[dict] = None,
                 student_head: str = 'roi_head',
                 teacher_head: Optional[str] = None,
                 teacher_feats: str = 'neck') -> None:
        super().__init__(student_head, teacher_head, hard_loss_key='loss_cls')
        self._build_chen_losses(loss_cls_kd, loss_bbox_kd)
        if getattr(self.loss_cls_kd, 'use_sigmoid', False):
            raise ConfigError(
                f'{type(self).__name__}.loss_cls_kd: the R-CNN head '
                'classifies with a softmax; set use_sigmoid=False')
        self.teacher_feats = teacher_feats

    def student_recorders(self) -> Dict[str, dict]:
        return dict(
            inputs=dict(type='MethodInputs',
                        source=f'{self.student_head}._bbox_forward'),
            outs=dict(type='MethodOutputs',
                      source=f'{self.student_head}._bbox_forward'),
            targets=dict(type='MethodOutputs',
                          source=f'{self.student_head}.bbox_head.get_targets'))

    def teacher_recorders(self) -> Dict[str, dict]:
        return dict(feats=dict(type='ModuleOutputs',
                               source=self.teacher_feats))

    def check(self, student: nn.Module, teacher: nn.Module, teacher_name: str,
              owner: str) -> None:
        if not hasattr(teacher, self.teacher_head.split('.')[0]):
            raise ConfigError(
                f'{owner}: R-CNN distillation runs the teacher\'s RoI head on '
                f'the student\'s RoIs, but teachers.{teacher_name} '
                f'({type(teacher).__name__}) has no {self.teacher_head!r}; '
                f'the student ({type(student).__name__}) has one')
        s_head = self.head_of(student, 'student', owner)
        t_head = self.head_of(teacher, 'teacher', owner)
        for side, head in (('student', s_head), (f'teachers.{teacher_name}',
                                                  t_head)):
            if not (hasattr(head, '_bbox_forward') and
                    hasattr(head, 'bbox_head')):
                raise ConfigError(
                    f'{owner}: {type(self).__name__} needs RoI heads with a '
                    f'bbox head (StandardRoIHead family); the {side} head is '
                    f'{type(head).__name__}')
            refuse_decoded_boxes(head.bbox_head, f'{side} bbox head', owner)
        s_box, t_box = s_head.bbox_head, t_head.bbox_head
        diff = HeadMismatch(owner, teacher_name)
        diff.compare('num_classes', s_box.num_classes, t_box.num_classes)
        diff.compare_coders(s_box.bbox_coder, t_box.bbox_coder)
        diff.raise_if_any()
        object.__setattr__(self, '_student_box_head', s_box)

    def teacher_outputs(self, teacher_model: nn.Module, feats,
                        rois: Tensor) -> dict:
        """The teacher's RoI head on the student's RoIs (no gradients)."""
        roi_head = teacher_model.get_submodule(self.teacher_head)
        with torch.no_grad():
            return roi_head._bbox_forward(tuple(feats), rois.detach())

    @staticmethod
    def _class_deltas(bbox_pred: Tensor, labels: Tensor) -> Tensor:
        if bbox_pred.shape[-1] == 4:
            return bbox_pred
        return bbox_pred.view(bbox_pred.shape[0], -1, 4)[
            torch.arange(labels.numel(), device=labels.device), labels]

    def loss(self, student, teacher, teacher_model,
             data_samples) -> Dict[str, Tensor]:
        box_head = self._student_box_head
        args, _ = student['inputs']
        rois = args[1]
        out_s = student['outs']
        out_t = self.teacher_outputs(teacher_model, teacher['feats'], rois)
        labels, label_w, bbox_targets, _ = student['targets'][:4]
        losses = {}
        if self.loss_cls_kd is not None:
            valid = label_w > 0
            avg = max(float(valid.sum()), 1.0)
            losses['loss_cls_kd'] = soft_cls_kd(
                self.loss_cls_kd, out_s['cls_score'][valid],
                out_t['cls_score'][valid], labels[valid], label_w[valid], avg)
        if self.loss_bbox_kd is not None:
            pos = (labels >= 0) & (labels < box_head.num_classes)
            losses['loss_bbox_kd'] = self.loss_bbox_kd(
                self._class_deltas(out_s['bbox_pred'][pos], labels[pos]),
                self._class_deltas(out_t['bbox_pred'][pos], labels[pos]),
                bbox_targets[pos], avg_factor=max(bbox_targets.size(0), 1))
        return losses
