from typing import Dict, Optional

from torch import Tensor, nn

from kdtools.registry import MODELS
from .base_head_distiller import (HeadMismatch, cat_levels, levels_to_flat,
                                  reduced_avg_factor)
from .crosskd_head_distiller import CrossKDHeadDistiller


@MODELS.register_module()
class CrossKDGFLHeadDistiller(CrossKDHeadDistiller):
    """CrossKD (Wang et al., CVPR 2024) for GFL heads (``GFLHead`` and its
    family: ``gfl_cls``, ``gfl_reg``, a ``Scale`` per level, edge
    distributions over ``reg_max + 1`` bins). The cross-head predictions
    (:class:`CrossKDHeadDistiller`) ``z_c`` (class logits) and ``d_c``
    (edge logits) are distilled toward the teacher's ``z_t``, ``d_t`` at
    every prior, as the authors' ``CrossKDGFL``:

    - ``loss_cls_kd``: :class:`KDQualityFocalLoss` (``beta=1``) on every
      prior, weighted by the student head's label weights, divided by the
      head's number of positives;
    - ``loss_reg_kd``: :class:`LocalizationDistillationLoss` with ``T=1``,
      summed over the bins (``class_reduction='sum'``), weight 4: per prior
      ``w = sigmoid(max_c z_t)`` (0 where the label weight is 0), the four
      edges' KL summed, ``sum_p w_p * KL_p / (4 * sum_p w_p)``.

    Shapes (per level l, batch B): teacher and cross outputs
    ``(B, C, H_l, W_l)`` and ``(B, 4 * (reg_max + 1), H_l, W_l)``; targets
    from the student's ``get_targets``: ``(B, H_l * W_l, ...)``.

    The teacher head must use the student's priors and ``reg_max``; the
    class counts may differ when ``loss_cls_kd`` is off (the regression
    weights read the teacher's own top score).

    Args:
        loss_cls_kd (dict, optional): the classification term.
        loss_reg_kd (dict, optional): the regression term.
        reused_teacher_head_idx (int): the authors' GFL setting: 3 of 4.
        adapter, student_head, teacher_head: see
            :class:`CrossKDHeadDistiller`.
    """

    family = 'GFL'
    layers = ('gfl_cls', 'gfl_reg', 'scales', 'reg_max')

    def __init__(self,
                 loss_cls_kd: Optional[dict] = dict(
                     type='KDQualityFocalLoss', beta=1.0, loss_weight=1.0),
                 loss_reg_kd: Optional[dict] = dict(
                     type='LocalizationDistillationLoss', temperature=1.0,
                     class_reduction='sum', loss_weight=4.0),
                 reused_teacher_head_idx: int = 3,
                 adapter: Optional[dict] = None,
                 student_head: str = 'bbox_head',
                 teacher_head: Optional[str] = None) -> None:
        super().__init__(dict(loss_cls_kd=loss_cls_kd,
                              loss_reg_kd=loss_reg_kd),
                         reused_teacher_head_idx, adapter, student_head,
                         teacher_head)

    def compare_heads(self, diff: HeadMismatch, s_head: nn.Module,
                      t_head: nn.Module) -> None:
        diff.compare('reg_max', s_head.reg_max, t_head.reg_max)
        super().compare_heads(diff, s_head, t_head)

    def predict(self, t_head, level, cls_feat, reg_feat) -> tuple:
        return (t_head.gfl_cls(cls_feat),
                t_head.scales[level](t_head.gfl_reg(reg_feat)).float())

    def kd_losses(self, cross, teacher, targets,
                  data_samples) -> Dict[str, Tensor]:
        head = self._student_head_module
        cls_c, reg_c = cross
        cls_t, reg_t = teacher[:2]
        _, labels, label_w, _, _, avg_factor = targets
        label_w = cat_levels(label_w).reshape(-1)
        bins = head.reg_max + 1
        cls_t = levels_to_flat(cls_t, cls_t[0].shape[1])
        cls_t = cls_t.reshape(-1, cls_t.shape[-1])
        losses = {}
        if self.loss_cls_kd is not None:
            channels = head.cls_out_channels
            losses['loss_cls_kd'] = self.loss_cls_kd(
                levels_to_flat(cls_c, channels).reshape(-1, channels),
                cls_t, weight=label_w,
                avg_factor=reduced_avg_factor(avg_factor, cls_t.device))
        if self.loss_reg_kd is not None:
            weight = cls_t.detach().max(dim=1)[0].sigmoid()
            weight = weight * (label_w > 0)
            losses['loss_reg_kd'] = self.loss_reg_kd(
                levels_to_flat(reg_c, 4 * bins).reshape(-1, bins),
                levels_to_flat(reg_t, 4 * bins).reshape(-1, bins),
                weight=weight[:, None].expand(-1, 4).reshape(-1),
                avg_factor=4.0 * weight.sum().clamp(min=1e-6))
        return losses
