from typing import Dict, Optional

import torch
from mmdet.utils import reduce_mean
from torch import Tensor, nn

from kdtools.registry import MODELS
from .base_head_distiller import HeadMismatch
from .crosskd_head_distiller import CrossKDHeadDistiller, level_major
from .crosskd_retina_head_distiller import decoded_box_kd


@MODELS.register_module()
class CrossKDFCOSHeadDistiller(CrossKDHeadDistiller):
    """CrossKD (Wang et al., CVPR 2024) for FCOS heads (``FCOSHead``:
    ``conv_cls``, ``conv_reg``, ``conv_centerness``, a ``Scale`` per level,
    distances to the four edges), as the authors' ``CrossKDFCOS``. The
    cross-head distances go through the teacher's own output transform
    (``exp``, or ``clamp(min=0)`` times the stride with ``norm_on_bbox``,
    the teacher being in eval mode), like the teacher's predictions. With
    ``z_c``, ``z_t`` the class logits and ``D`` the student's positives'
    summed centerness targets (the normaliser of FCOS's own box loss):

    - ``loss_cls_kd``: :class:`KDQualityFocalLoss` (``beta=1``, paper
      weight 0.4) at every point, divided by ``D``;
    - ``loss_reg_kd``: mmdet's ``IoULoss`` (paper weight 0.75) between the
      boxes the cross-head and teacher distances decode to at every point,
      weighted by ``sigmoid(max_c z_t)``, divided by ``D``.

    The centerness branch is not distilled (as the authors).

    Shapes (per level l): ``(B, C, H_l, W_l)``, ``(B, 4, H_l, W_l)``;
    targets from the student's ``get_targets``: ``(B * H_l * W_l, ...)``.

    Args:
        loss_cls_kd, loss_reg_kd (dict, optional): the two terms.
        reused_teacher_head_idx (int): the authors' setting: 2 of 4.
        adapter, student_head, teacher_head: see
            :class:`CrossKDHeadDistiller`.
    """

    family = 'FCOS'
    layers = ('conv_cls', 'conv_reg', 'conv_centerness', 'scales', 'strides',
              'norm_on_bbox', 'centerness_on_reg', 'centerness_target')

    def __init__(self,
                 loss_cls_kd: Optional[dict] = dict(
                     type='KDQualityFocalLoss', beta=1.0, loss_weight=0.4),
                 loss_reg_kd: Optional[dict] = dict(type='mmdet.IoULoss',
                                                    loss_weight=0.75),
                 reused_teacher_head_idx: int = 2,
                 adapter: Optional[dict] = None,
                 student_head: str = 'bbox_head',
                 teacher_head: Optional[str] = None) -> None:
        super().__init__(dict(loss_cls_kd=loss_cls_kd,
                              loss_reg_kd=loss_reg_kd),
                         reused_teacher_head_idx, adapter, student_head,
                         teacher_head)

    def compare_heads(self, diff: HeadMismatch, s_head: nn.Module,
                      t_head: nn.Module) -> None:
        diff.compare('strides', list(s_head.strides), list(t_head.strides))
        diff.compare('bbox_coder', type(s_head.bbox_coder).__name__,
                     type(t_head.bbox_coder).__name__)

    def predict(self, t_head, level, cls_feat, reg_feat) -> tuple:
        cls_score = t_head.conv_cls(cls_feat)
        bbox_pred = t_head.scales[level](t_head.conv_reg(reg_feat)).float()
        centerness = t_head.conv_centerness(
            reg_feat if t_head.centerness_on_reg else cls_feat)
        if t_head.norm_on_bbox:
            bbox_pred = bbox_pred.clamp(min=0)
            if not t_head.training:
                bbox_pred = bbox_pred * t_head.strides[level]
        else:
            bbox_pred = bbox_pred.exp()
        return cls_score, bbox_pred, centerness

    def kd_losses(self, cross, teacher, targets,
                  data_samples) -> Dict[str, Tensor]:
        head = self._student_head_module
        cls_c, reg_c = cross[:2]
        cls_t, reg_t = teacher[:2]
        labels, bbox_targets = (torch.cat(list(t)) for t in targets[:2])
        pos = (labels >= 0) & (labels < head.num_classes)
        centerness = head.centerness_target(bbox_targets[pos])
        denorm = max(reduce_mean(centerness.sum().detach()).item(), 1e-6)
        cls_t = level_major(cls_t, cls_t[0].shape[1])
        losses = {}
        if self.loss_cls_kd is not None:
            losses['loss_cls_kd'] = self.loss_cls_kd(
                level_major(cls_c, head.cls_out_channels), cls_t,
                avg_factor=denorm)
        if self.loss_reg_kd is not None:
            sizes = [m.shape[-2:] for m in reg_c]
            points = torch.cat([
                p.repeat(reg_c[0].shape[0], 1)
                for p in head.prior_generator.grid_priors(
                    sizes, dtype=reg_c[0].dtype, device=reg_c[0].device)])
            losses['loss_reg_kd'] = decoded_box_kd(
                self.loss_reg_kd, head.bbox_coder, points,
                level_major(reg_c, 4), level_major(reg_t, 4),
                cls_t.detach().max(dim=1)[0].sigmoid(), denorm)
        return losses
