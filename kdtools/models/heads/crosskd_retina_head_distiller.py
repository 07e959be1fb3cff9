from typing import Dict, Optional

import torch
from torch import Tensor, nn

from kdtools.registry import MODELS
from .base_head_distiller import (HeadMismatch, cat_levels, levels_to_flat,
                                  reduced_avg_factor)
from .crosskd_head_distiller import CrossKDHeadDistiller


def decoded_box_kd(loss: nn.Module, coder, priors: Tensor, cross: Tensor,
                   teacher: Tensor, weight: Tensor, avg_factor) -> Tensor:
    """CrossKD's box term of RetinaNet, FCOS and ATSS: the cross-head and
    the teacher's regressions decoded at the same priors by the student
    head's coder, compared by ``loss`` (an IoU-family loss) with per-prior
    ``weight``."""
    return loss(coder.decode(priors, cross), coder.decode(priors, teacher),
                weight=weight, avg_factor=avg_factor)


@MODELS.register_module()
class CrossKDRetinaHeadDistiller(CrossKDHeadDistiller):
    """CrossKD (Wang et al., CVPR 2024) for RetinaNet heads (``RetinaHead``:
    ``retina_cls``, ``retina_reg``, A anchors per location, encoded
    deltas), as the authors' ``CrossKDRetinaNet``: with ``z_c``, ``z_t``
    the cross-head and teacher class logits and ``r_c``, ``r_t`` their
    deltas at every anchor,

    - ``loss_cls_kd``: :class:`KDQualityFocalLoss` (``beta=1``) weighted by
      the student head's label weights, divided by its average factor;
    - ``loss_reg_kd``: mmdet's ``GIoULoss`` between ``decode(a, r_c)`` and
      ``decode(a, r_t)`` (the student's box coder), per anchor weighted by
      ``sigmoid(max_c z_t)`` (0 where the label weight is 0), divided by
      the same factor.

    Shapes (per level l): ``(B, A * C, H_l, W_l)``, ``(B, A * 4, H_l,
    W_l)``; targets from the student's ``get_targets``:
    ``(B, A * H_l * W_l, ...)``.

    Args:
        loss_cls_kd, loss_reg_kd (dict, optional): the two terms.
        reused_teacher_head_idx (int): the authors' setting: 3 of 4.
        adapter, student_head, teacher_head: see
            :class:`CrossKDHeadDistiller`.
    """

    family = 'RetinaNet'
    layers = ('retina_cls', 'retina_reg', 'bbox_coder')

    def __init__(self,
                 loss_cls_kd: Optional[dict] = dict(
                     type='KDQualityFocalLoss', beta=1.0, loss_weight=1.0),
                 loss_reg_kd: Optional[dict] = dict(type='mmdet.GIoULoss',
                                                    loss_weight=1.0),
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
        diff.compare_priors(s_head.prior_generator, t_head.prior_generator,
                            per_location='anchors per location')
        diff.compare_coders(s_head.bbox_coder, t_head.bbox_coder)

    def predict(self, t_head, level, cls_feat, reg_feat) -> tuple:
        return t_head.retina_cls(cls_feat), t_head.retina_reg(reg_feat)

    def anchors(self, maps) -> Tensor:
        """``(B * N, 4)``: the student head's anchors of every image, in
        the order of :func:`levels_to_flat`."""
        head = self._student_head_module
        sizes = [m.shape[-2:] for m in maps]
        priors = torch.cat(head.prior_generator.grid_priors(
            sizes, dtype=maps[0].dtype, device=maps[0].device))
        return priors.repeat(maps[0].shape[0], 1)

    def kd_losses(self, cross, teacher, targets,
                  data_samples) -> Dict[str, Tensor]:
        cls_c, reg_c = cross
        label_w, avg_factor = targets[1], targets[4]
        label_w = cat_levels(label_w).reshape(-1)
        avg_factor = reduced_avg_factor(avg_factor, label_w.device)
        return self.cls_box_kd(cls_c, reg_c, teacher[0], teacher[1],
                               label_w, avg_factor,
                               lambda: self.anchors(reg_c))

    def cls_box_kd(self, cls_c, reg_c, cls_t, reg_t, label_w: Tensor,
                   avg_factor, anchors) -> Dict[str, Tensor]:
        """The classification and box terms of an anchor head (RetinaNet,
        ATSS) from per-level cross-head and teacher maps, the flat label
        weights ``(B * N,)`` and the anchors ``(B * N, 4)`` (a callable,
        read only for the box term)."""
        head = self._student_head_module
        t_channels = cls_t[0].shape[1] // head.num_base_priors
        cls_t = levels_to_flat(cls_t, t_channels).reshape(-1, t_channels)
        losses = {}
        if self.loss_cls_kd is not None:
            channels = head.cls_out_channels
            losses['loss_cls_kd'] = self.loss_cls_kd(
                levels_to_flat(cls_c, channels).reshape(-1, channels),
                cls_t, weight=label_w, avg_factor=avg_factor)
        if self.loss_reg_kd is not None:
            weight = cls_t.detach().max(dim=1)[0].sigmoid()
            weight = weight * (label_w > 0)
            size = head.bbox_coder.encode_size
            losses['loss_reg_kd'] = decoded_box_kd(
                self.loss_reg_kd, head.bbox_coder, anchors(),
                levels_to_flat(reg_c, size).reshape(-1, size),
                levels_to_flat(reg_t, size).reshape(-1, size), weight,
                avg_factor)
        return losses
