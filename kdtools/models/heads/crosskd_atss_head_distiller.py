from typing import Dict, Optional

from torch import Tensor

from kdtools.registry import MODELS
from .base_head_distiller import cat_levels, levels_to_flat, \
    reduced_avg_factor
from .crosskd_head_distiller import CrossKDHeadDistiller
from .crosskd_retina_head_distiller import CrossKDRetinaHeadDistiller


@MODELS.register_module()
class CrossKDATSSHeadDistiller(CrossKDRetinaHeadDistiller):
    """CrossKD (Wang et al., CVPR 2024) for ATSS heads (``ATSSHead``:
    ``atss_cls``, ``atss_reg``, ``atss_centerness``, a ``Scale`` per level,
    encoded deltas), as the authors' ``CrossKDATSS``. With ``z_c``, ``z_t``
    the cross-head and teacher class logits, ``r`` their deltas and ``o``
    their centerness logits at every anchor:

    - ``loss_cls_kd``: :class:`KDQualityFocalLoss` (``beta=1``) weighted by
      the student head's label weights, divided by its number of positives;
    - ``loss_reg_kd``: mmdet's ``GIoULoss`` between ``decode(a, r_c)`` and
      ``decode(a, r_t)`` (the student's box coder), per anchor weighted by
      ``sigmoid(max_c z_t)`` (0 where the label weight is 0), same divisor;
    - ``loss_center_kd``: mmdet's sigmoid ``CrossEntropyLoss`` of ``o_c``
      toward ``sigmoid(o_t)`` on the student's positives, same divisor.

    Shapes (per level l): ``(B, C, H_l, W_l)``, ``(B, 4, H_l, W_l)``,
    ``(B, 1, H_l, W_l)``; targets from the student's ``get_targets``:
    ``(B, H_l * W_l, ...)``.

    Args:
        loss_cls_kd, loss_reg_kd, loss_center_kd (dict, optional): the
            three terms.
        reused_teacher_head_idx (int): the authors' setting: 3 of 4.
        adapter, student_head, teacher_head: see
            :class:`CrossKDHeadDistiller`.
    """

    family = 'ATSS'
    layers = ('atss_cls', 'atss_reg', 'atss_centerness', 'scales',
              'bbox_coder')
    loss_names = ('loss_cls_kd', 'loss_reg_kd', 'loss_center_kd')

    def __init__(self,
                 loss_cls_kd: Optional[dict] = dict(
                     type='KDQualityFocalLoss', beta=1.0, loss_weight=1.0),
                 loss_reg_kd: Optional[dict] = dict(type='mmdet.GIoULoss',
                                                    loss_weight=1.0),
                 loss_center_kd: Optional[dict] = dict(
                     type='mmdet.CrossEntropyLoss', use_sigmoid=True,
                     loss_weight=1.0),
                 reused_teacher_head_idx: int = 3,
                 adapter: Optional[dict] = None,
                 student_head: str = 'bbox_head',
                 teacher_head: Optional[str] = None) -> None:
        CrossKDHeadDistiller.__init__(
            self, dict(loss_cls_kd=loss_cls_kd, loss_reg_kd=loss_reg_kd,
                       loss_center_kd=loss_center_kd),
            reused_teacher_head_idx, adapter, student_head, teacher_head)

    def predict(self, t_head, level, cls_feat, reg_feat) -> tuple:
        return (t_head.atss_cls(cls_feat),
                t_head.scales[level](t_head.atss_reg(reg_feat)).float(),
                t_head.atss_centerness(reg_feat))

    def kd_losses(self, cross, teacher, targets,
                  data_samples) -> Dict[str, Tensor]:
        head = self._student_head_module
        cls_c, reg_c, ctr_c = cross
        anchors, labels, label_w, _, _, avg_factor = targets
        labels = cat_levels(labels).reshape(-1)
        label_w = cat_levels(label_w).reshape(-1)
        avg_factor = reduced_avg_factor(avg_factor, label_w.device)
        losses = self.cls_box_kd(
            cls_c, reg_c, teacher[0], teacher[1], label_w, avg_factor,
            lambda: cat_levels(anchors).reshape(-1, 4))
        if self.loss_center_kd is not None:
            pos = (labels >= 0) & (labels < head.num_classes)
            ctr_c = levels_to_flat(ctr_c, 1).reshape(-1)
            ctr_t = levels_to_flat(teacher[2], 1).reshape(-1)
            losses['loss_center_kd'] = self.loss_center_kd(
                ctr_c[pos], ctr_t[pos].detach().sigmoid(),
                avg_factor=avg_factor) if pos.any() else ctr_c.sum() * 0
        return losses
