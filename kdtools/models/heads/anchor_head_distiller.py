from typing import Dict, Optional

from torch import Tensor, nn

from kdtools.registry import MODELS
from kdtools.utils.errors import ConfigError
from .base_head_distiller import (BaseHeadDistiller, HeadMismatch, cat_levels,
                                  levels_to_flat, reduced_avg_factor,
                                  refuse_class_mismatch, refuse_decoded_boxes,
                                  soft_cls_kd)


@MODELS.register_module()
class AnchorHeadDistiller(BaseHeadDistiller):
    """Chen et al. (NeurIPS 2017) classification distillation and
    teacher-bounded regression for anchor heads that regress encoded deltas
    (mmdet ``AnchorHead`` family: the RPN of a two-stage detector, RetinaNet),
    read at the same anchors in teacher and student:

    - ``loss_cls_kd``: :class:`WeightedSoftCELoss` (sigmoid form for sigmoid
      heads such as RPN objectness, softmax form for softmax heads) on every
      anchor the head samples, averaged like the head's own classification
      loss; the head's classification loss (``hard_loss_key``:
      ``loss_rpn_cls`` for an RPN, ``loss_cls`` otherwise) is multiplied by
      the loss's ``mu``;
    - ``loss_bbox_kd``: :class:`TeacherBoundedRegressionLoss` on the
      positive anchors, on the deltas both heads regress, with the head's
      own average factor.

    Shapes (per level l): ``cls_scores[l]``: ``(B, A * C, H_l, W_l)``,
    ``bbox_preds[l]``: ``(B, A * 4, H_l, W_l)``; targets from
    ``get_targets``: ``(B, A * H_l * W_l, ...)``.

    Args:
        loss_cls_kd (dict, optional): the classification KD loss.
        loss_bbox_kd (dict, optional): the bounded regression loss.
        student_head (str): ``'rpn_head'`` for a two-stage student,
            ``'bbox_head'`` for a one-stage one.
        teacher_head (str, optional): defaults to ``student_head``.
        hard_loss_key (str, optional): defaults to ``'loss_rpn_cls'`` for
            ``rpn_head``, else ``'loss_cls'``.
    """

    def __init__(self,
                 loss_cls_kd: Optional[dict] = None,
                 loss_bbox_kd: Optional[dict] = None,
                 student_head: str = 'rpn_head',
                 teacher_head: Optional[str] = None,
                 hard_loss_key: Optional[str] = None) -> None:
        if hard_loss_key is None:
            hard_loss_key = 'loss_rpn_cls' if student_head == 'rpn_head' \
                else 'loss_cls'
        super().__init__(student_head, teacher_head,
                         hard_loss_key=hard_loss_key)
        self._build_chen_losses(loss_cls_kd, loss_bbox_kd)

    def check(self, student: nn.Module, teacher: nn.Module, teacher_name: str,
              owner: str) -> None:
        s_head = self.head_of(student, 'student', owner)
        t_head = self.head_of(teacher, 'teacher', owner)
        for side, head in (('student', s_head), (f'teachers.{teacher_name}',
                                                  t_head)):
            if not (hasattr(head, 'prior_generator') and
                    hasattr(head, 'bbox_coder') and
                    hasattr(head, 'use_sigmoid_cls')):
                raise ConfigError(
                    f'{owner}: {type(self).__name__} needs anchor heads '
                    f'(AnchorHead family); the {side} head is '
                    f'{type(head).__name__}')
            refuse_decoded_boxes(head, f'{side} head', owner)
        refuse_class_mismatch(
            owner, teacher_name, s_head.num_classes, t_head.num_classes,
            ['loss_cls_kd' if self.loss_cls_kd is not None else None])
        diff = HeadMismatch(owner, teacher_name)
        diff.compare('use_sigmoid_cls', s_head.use_sigmoid_cls,
                     t_head.use_sigmoid_cls)
        diff.compare_priors(s_head.prior_generator, t_head.prior_generator,
                            per_location='anchors per location')
        diff.compare_coders(s_head.bbox_coder, t_head.bbox_coder)
        diff.raise_if_any()
        if self.loss_cls_kd is not None and \
                getattr(self.loss_cls_kd, 'use_sigmoid', False) != \
                bool(s_head.use_sigmoid_cls):
            raise ConfigError(
                f'{owner}.loss_cls_kd: use_sigmoid='
                f'{getattr(self.loss_cls_kd, "use_sigmoid", False)} but the '
                f'student head classifies with '
                f'{"sigmoids" if s_head.use_sigmoid_cls else "a softmax"}')
        object.__setattr__(self, '_student_head_module', s_head)

    def loss(self, student, teacher, teacher_model,
             data_samples) -> Dict[str, Tensor]:
        head = self._student_head_module
        cls_s, reg_s = student['outs']
        cls_t, reg_t = teacher['outs']
        labels, label_w, bbox_targets, bbox_w, avg_factor = \
            student['targets'][:5]
        channels = head.cls_out_channels
        labels = cat_levels(labels).reshape(-1)
        label_w = cat_levels(label_w).reshape(-1)
        cls_s = levels_to_flat(cls_s, channels).reshape(-1, channels)
        cls_t = levels_to_flat(cls_t, channels).reshape(-1, channels)
        avg_factor = reduced_avg_factor(avg_factor, cls_s.device)
        losses = {}
        if self.loss_cls_kd is not None:
            valid = label_w > 0
            losses['loss_cls_kd'] = soft_cls_kd(
                self.loss_cls_kd, cls_s[valid], cls_t[valid], labels[valid],
                label_w[valid], avg_factor)
        if self.loss_bbox_kd is not None:
            pos = (labels >= 0) & (labels < head.num_classes)
            reg_s = levels_to_flat(reg_s, 4).reshape(-1, 4)
            reg_t = levels_to_flat(reg_t, 4).reshape(-1, 4)
            bbox_targets = cat_levels(bbox_targets).reshape(-1, 4)
            losses['loss_bbox_kd'] = self.loss_bbox_kd(
                reg_s[pos], reg_t[pos], bbox_targets[pos],
                avg_factor=avg_factor)
        return losses
