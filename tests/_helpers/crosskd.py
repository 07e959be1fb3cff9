"""CrossKD's tests: tiny mmdet heads of the four families, a runner that
records what a Distiller would record for a head distiller, and a
transcription of the authors' code (jbwang1997/CrossKD,
mmdet/models/detectors/crosskd_*.py and mmdet/models/losses/kd_loss.py):
their per-level forward that holds the tower feature (``activate=False``,
then the ConvModule's in-place activation), ``align_scale``,
``reuse_teacher_head`` and the per-detector loss functions, written out
again here as the reference the head distillers are compared with."""
import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmengine.registry import MODELS, DefaultScope
from mmengine.structures import InstanceData
from torch import nn

from kdtools.models.distillers.head_wiring import _recorded
from kdtools.models.recorders import RecorderManager

GN = dict(type='GN', num_groups=4, requires_grad=True)


class Holder(nn.Module):
    def __init__(self, head):
        super().__init__()
        self.bbox_head = head


def make_head(family, width=8, num_classes=3, seed=0, **changes):
    """A two-conv head of ``family`` ('gfl', 'retina', 'fcos', 'atss'),
    ``width`` channels, strides 8 and 16."""
    torch.manual_seed(seed)
    common = dict(num_classes=num_classes, in_channels=width,
                  stacked_convs=2, feat_channels=width)
    if family == 'gfl':
        cfg = dict(type='GFLHead', norm_cfg=GN, reg_max=8,
                   anchor_generator=dict(type='AnchorGenerator',
                                         ratios=[1.0], octave_base_scale=4,
                                         scales_per_octave=1,
                                         strides=[8, 16]),
                   loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True,
                                 beta=2.0, loss_weight=1.0),
                   loss_dfl=dict(type='DistributionFocalLoss',
                                 loss_weight=0.25),
                   loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
                   train_cfg=dict(assigner=dict(type='ATSSAssigner', topk=9),
                                  allowed_border=-1, pos_weight=-1,
                                  debug=False))
    elif family == 'retina':
        cfg = dict(type='RetinaHead',
                   anchor_generator=dict(type='AnchorGenerator',
                                         octave_base_scale=4,
                                         scales_per_octave=3,
                                         ratios=[0.5, 1.0, 2.0],
                                         strides=[8, 16]),
                   bbox_coder=dict(type='DeltaXYWHBBoxCoder',
                                   target_means=[.0, .0, .0, .0],
                                   target_stds=[1.0, 1.0, 1.0, 1.0]),
                   loss_cls=dict(type='FocalLoss', use_sigmoid=True,
                                 gamma=2.0, alpha=0.25, loss_weight=1.0),
                   loss_bbox=dict(type='L1Loss', loss_weight=1.0),
                   train_cfg=dict(assigner=dict(type='MaxIoUAssigner',
                                                pos_iou_thr=0.5,
                                                neg_iou_thr=0.4,
                                                min_pos_iou=0,
                                                ignore_iof_thr=-1),
                                  sampler=dict(type='PseudoSampler'),
                                  allowed_border=-1, pos_weight=-1,
                                  debug=False))
    elif family == 'fcos':
        cfg = dict(type='FCOSHead', norm_cfg=GN, strides=[8, 16],
                   regress_ranges=((-1, 32), (32, 1e8)),
                   loss_cls=dict(type='FocalLoss', use_sigmoid=True,
                                 gamma=2.0, alpha=0.25, loss_weight=1.0),
                   loss_bbox=dict(type='IoULoss', loss_weight=1.0),
                   loss_centerness=dict(type='CrossEntropyLoss',
                                        use_sigmoid=True, loss_weight=1.0))
    else:
        cfg = dict(type='ATSSHead', norm_cfg=GN,
                   anchor_generator=dict(type='AnchorGenerator',
                                         ratios=[1.0], octave_base_scale=4,
                                         scales_per_octave=1,
                                         strides=[8, 16]),
                   bbox_coder=dict(type='DeltaXYWHBBoxCoder',
                                   target_means=[.0, .0, .0, .0],
                                   target_stds=[0.1, 0.1, 0.2, 0.2]),
                   loss_cls=dict(type='FocalLoss', use_sigmoid=True,
                                 gamma=2.0, alpha=0.25, loss_weight=1.0),
                   loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
                   loss_centerness=dict(type='CrossEntropyLoss',
                                        use_sigmoid=True, loss_weight=1.0),
                   train_cfg=dict(assigner=dict(type='ATSSAssigner', topk=9),
                                  allowed_border=-1, pos_weight=-1,
                                  debug=False))
    cfg.update(common)
    cfg.update(changes)
    with DefaultScope.overwrite_default_scope('mmdet'):
        head = MODELS.build(cfg)
    if family in ('gfl', 'atss', 'fcos'):  # scales away from 1
        for i, s in enumerate(head.scales):
            s.scale.data.fill_(0.5 + 0.5 * i)
    return head


def samples(n=2, size=64):
    out = []
    boxes = [torch.tensor([[4., 6., 30., 40.], [20., 10., 60., 50.]]),
             torch.tensor([[8., 8., 56., 40.]])]
    labels = [torch.tensor([1, 2]), torch.tensor([0])]
    for i in range(n):
        s = DetDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            pad_shape=(size, size), batch_input_shape=(size, size),
            scale_factor=(1.0, 1.0)))
        s.gt_instances = InstanceData(bboxes=boxes[i % 2],
                                      labels=labels[i % 2])
        out.append(s)
    return out


def feats(width, seed, n=2):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, width, 8, 8, generator=g),
            torch.randn(n, width, 4, 4, generator=g)]


def record(hd, s_head, t_head, s_feats, t_feats, data_samples):
    """What the Distiller gives ``hd.loss``: the student head's ``loss``
    run with the head distiller's student recorders on, the frozen
    teacher head's forward (eval, no grad) with its teacher recorders."""
    student, teacher = Holder(s_head), Holder(t_head)
    t_head.eval()
    t_head.requires_grad_(False)
    s_mgr = RecorderManager(hd.student_recorders(), student, 'student')
    t_mgr = RecorderManager(hd.teacher_recorders(), teacher, 'teacher')
    with t_mgr.record(), torch.no_grad():
        t_head(t_feats)
    with s_mgr.record():
        own = s_head.loss(s_feats, data_samples)
    return student, teacher, _recorded(s_mgr, ''), _recorded(t_mgr, ''), own


# --- the authors' code, transcribed ----------------------------------------
def authors_align_scale(stu_feat, tea_feat):
    N, C, H, W = stu_feat.size()
    stu_feat = stu_feat.permute(1, 0, 2, 3).reshape(C, -1)
    stu_mean = stu_feat.mean(dim=-1, keepdim=True)
    stu_std = stu_feat.std(dim=-1, keepdim=True)
    stu_feat = (stu_feat - stu_mean) / (stu_std + 1e-6)
    tea_feat = tea_feat.permute(1, 0, 2, 3).reshape(C, -1)
    tea_mean = tea_feat.mean(dim=-1, keepdim=True)
    tea_std = tea_feat.std(dim=-1, keepdim=True)
    stu_feat = stu_feat * tea_std + tea_mean
    return stu_feat.reshape(C, N, H, W).permute(1, 0, 2, 3)


def authors_tower(head, x, idx):
    """``forward_crosskd_single``'s tower: the held features are the
    ``activate=False`` outputs, then activated in place."""
    cls_feat, reg_feat = x, x
    cls_hold, reg_hold = x, x
    for i, conv in enumerate(head.cls_convs):
        cls_feat = conv(cls_feat, activate=False)
        if i + 1 == idx:
            cls_hold = cls_feat
        cls_feat = conv.activate(cls_feat)
    for i, conv in enumerate(head.reg_convs):
        reg_feat = conv(reg_feat, activate=False)
        if i + 1 == idx:
            reg_hold = reg_feat
        reg_feat = conv.activate(reg_feat)
    return cls_feat, reg_feat, cls_hold, reg_hold


def authors_preds(family, head, level, cls_feat, reg_feat):
    if family == 'gfl':
        return (head.gfl_cls(cls_feat),
                head.scales[level](head.gfl_reg(reg_feat)).float())
    if family == 'retina':
        return head.retina_cls(cls_feat), head.retina_reg(reg_feat)
    if family == 'atss':
        return (head.atss_cls(cls_feat),
                head.scales[level](head.atss_reg(reg_feat)).float(),
                head.atss_centerness(reg_feat))
    stride = head.strides[level]
    bbox_pred = head.scales[level](head.conv_reg(reg_feat)).float()
    centerness = head.conv_centerness(
        reg_feat if head.centerness_on_reg else cls_feat)
    if head.norm_on_bbox:
        bbox_pred = bbox_pred.clamp(min=0)
        if not head.training:
            bbox_pred *= stride
    else:
        bbox_pred = bbox_pred.exp()
    return head.conv_cls(cls_feat), bbox_pred, centerness


def authors_reuse(family, t_head, level, tea_cls, tea_reg, stu_cls, stu_reg,
                  idx):
    cls_feat = authors_align_scale(stu_cls, tea_cls)
    reg_feat = authors_align_scale(stu_reg, tea_reg)
    if idx != 0:
        cls_feat, reg_feat = F.relu(cls_feat), F.relu(reg_feat)
    for i in range(idx, t_head.stacked_convs):
        cls_feat = t_head.cls_convs[i](cls_feat)
        reg_feat = t_head.reg_convs[i](reg_feat)
    return authors_preds(family, t_head, level, cls_feat, reg_feat)


def authors_cross(family, s_head, t_head, s_feats, t_feats, idx):
    """(teacher predictions, cross-head predictions), per output a list
    over levels, as the authors' ``loss`` computes them."""
    tea, cross = [], []
    for level, (sx, tx) in enumerate(zip(s_feats, t_feats)):
        with torch.no_grad():
            t_cls, t_reg, t_cls_hold, t_reg_hold = authors_tower(t_head, tx,
                                                                 idx)
            tea.append(authors_preds(family, t_head, level, t_cls, t_reg))
        _, _, s_cls_hold, s_reg_hold = authors_tower(s_head, sx, idx)
        cross.append(authors_reuse(family, t_head, level, t_cls_hold,
                                   t_reg_hold, s_cls_hold, s_reg_hold, idx))
    return [list(o) for o in zip(*tea)], [list(o) for o in zip(*cross)]


def kd_quality_focal_loss(pred, target, weight=None, beta=1, avg_factor=None):
    num_classes = pred.size(1)
    if weight is not None:
        weight = weight[:, None].repeat(1, num_classes)
    target = target.detach().sigmoid()
    loss = F.binary_cross_entropy_with_logits(pred, target, reduction='none')
    loss = loss * torch.abs(pred.sigmoid() - target).pow(beta)
    if weight is not None:
        loss = loss * weight
    return loss.sum() / avg_factor


def kl_sum(pred, soft_label, T=1):
    target = F.softmax(soft_label / T, dim=1).detach()
    return F.kl_div(F.log_softmax(pred / T, dim=1), target,
                    reduction='none').sum(1) * (T * T)


def authors_gfl_losses(head, tea, cross, targets, w_cls=1.0, w_reg=4.0):
    """``CrossKDGFL.loss_by_feat``'s KD part (per level, then summed)."""
    _, _, label_weights_list, _, _, avg_factor = targets
    C, bins = head.cls_out_channels, head.reg_max + 1
    cls_kd, reg_kd, kd_af = [], [], []
    for t_cls, t_reg, c_cls, c_reg, lw in zip(*tea, *cross,
                                              label_weights_list):
        t_cls = t_cls.permute(0, 2, 3, 1).reshape(-1, C)
        c_cls = c_cls.permute(0, 2, 3, 1).reshape(-1, C)
        lw = lw.reshape(-1)
        cls_kd.append(w_cls * kd_quality_focal_loss(
            c_cls, t_cls, lw, avg_factor=avg_factor))
        t_reg = t_reg.permute(0, 2, 3, 1).reshape(-1, bins)
        c_reg = c_reg.permute(0, 2, 3, 1).reshape(-1, bins)
        w = t_cls.max(dim=1)[0].sigmoid()
        w[lw == 0] = 0
        reg_kd.append(w_reg * (kl_sum(c_reg, t_reg) *
                               w[:, None].expand(-1, 4).reshape(-1)).sum()
                      / 4.0)
        kd_af.append(w.sum())
    kd_af = sum(kd_af)
    return dict(loss_cls_kd=sum(cls_kd),
                loss_reg_kd=sum(x / kd_af for x in reg_kd))


def _mmdet_loss(cfg):
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg)


def authors_retina_losses(head, tea, cross, targets, featmap_sizes):
    """``CrossKDRetinaNet.pred_mimicking_loss_single``, summed over
    levels."""
    _, label_weights_list, _, _, avg_factor = targets[:5]
    giou = _mmdet_loss(dict(type='GIoULoss', loss_weight=1.0))
    C = head.cls_out_channels
    n = tea[0][0].shape[0]
    anchors = head.prior_generator.grid_priors(featmap_sizes, device='cpu')
    out = dict(loss_cls_kd=0, loss_reg_kd=0)
    for a, t_cls, t_reg, c_cls, c_reg, lw in zip(anchors, *tea, *cross,
                                                 label_weights_list):
        t_cls = t_cls.permute(0, 2, 3, 1).reshape(-1, C)
        c_cls = c_cls.permute(0, 2, 3, 1).reshape(-1, C)
        lw = lw.reshape(-1)
        out['loss_cls_kd'] += kd_quality_focal_loss(c_cls, t_cls, lw,
                                                    avg_factor=avg_factor)
        coder = head.bbox_coder
        a = a.repeat(n, 1)
        t_box = coder.decode(a, t_reg.permute(0, 2, 3, 1).reshape(-1, 4))
        c_box = coder.decode(a, c_reg.permute(0, 2, 3, 1).reshape(-1, 4))
        w = t_cls.max(dim=1)[0].sigmoid()
        w[lw == 0] = 0
        out['loss_reg_kd'] += giou(c_box, t_box, w, avg_factor=avg_factor)
    return out


def authors_atss_losses(head, tea, cross, targets):
    anchor_list, labels_list, label_weights_list, _, _, avg_factor = targets
    giou = _mmdet_loss(dict(type='GIoULoss', loss_weight=1.0))
    ce = _mmdet_loss(dict(type='CrossEntropyLoss', use_sigmoid=True,
                          loss_weight=1.0))
    C = head.cls_out_channels
    out = dict(loss_cls_kd=0, loss_reg_kd=0, loss_center_kd=0)
    for labels, anchors, t_cls, t_reg, t_ctr, c_cls, c_reg, c_ctr, lw in zip(
            labels_list, anchor_list, *tea, *cross, label_weights_list):
        t_cls = t_cls.permute(0, 2, 3, 1).reshape(-1, C)
        c_cls = c_cls.permute(0, 2, 3, 1).reshape(-1, C)
        lw = lw.reshape(-1)
        out['loss_cls_kd'] += kd_quality_focal_loss(c_cls, t_cls, lw,
                                                    avg_factor=avg_factor)
        coder = head.bbox_coder
        anchors = anchors.reshape(-1, anchors.size(-1))
        t_box = coder.decode(anchors,
                             t_reg.permute(0, 2, 3, 1).reshape(-1, 4))
        c_box = coder.decode(anchors,
                             c_reg.permute(0, 2, 3, 1).reshape(-1, 4))
        w = t_cls.max(dim=1)[0].sigmoid()
        w[lw == 0] = 0
        out['loss_reg_kd'] += giou(c_box, t_box, weight=w,
                                   avg_factor=avg_factor)
        labels = labels.reshape(-1)
        pos = ((labels >= 0) & (labels < head.num_classes)).nonzero() \
            .squeeze(1)
        t_ctr = t_ctr.permute(0, 2, 3, 1).reshape(-1)
        c_ctr = c_ctr.permute(0, 2, 3, 1).reshape(-1)
        if len(pos) > 0:
            out['loss_center_kd'] += ce(c_ctr[pos], t_ctr[pos].sigmoid(),
                                        avg_factor=avg_factor)
    return out


def authors_fcos_losses(head, tea, cross, targets, featmap_sizes,
                        w_cls=0.4, w_reg=0.75):
    """``CrossKDFCOS.loss_by_feat``'s KD part."""
    labels, bbox_targets = targets
    iou = _mmdet_loss(dict(type='IoULoss', loss_weight=w_reg))
    C = head.cls_out_channels
    n = tea[0][0].shape[0]
    points = head.prior_generator.grid_priors(featmap_sizes, device='cpu')
    flat_points = torch.cat([p.repeat(n, 1) for p in points])
    flat_labels, flat_targets = torch.cat(labels), torch.cat(bbox_targets)
    pos = ((flat_labels >= 0) & (flat_labels < head.num_classes)) \
        .nonzero().reshape(-1)
    denorm = max(head.centerness_target(flat_targets[pos]).sum().item(),
                 1e-6)

    def flat(maps, c):
        return torch.cat([m.permute(0, 2, 3, 1).reshape(-1, c)
                          for m in maps])

    t_cls, c_cls = flat(tea[0], C), flat(cross[0], C)
    out = dict(loss_cls_kd=w_cls * kd_quality_focal_loss(
        c_cls, t_cls, avg_factor=denorm))
    coder = head.bbox_coder
    t_box = coder.decode(flat_points, flat(tea[1], 4))
    c_box = coder.decode(flat_points, flat(cross[1], 4))
    out['loss_reg_kd'] = iou(c_box, t_box,
                             weight=t_cls.max(dim=1)[0].sigmoid(),
                             avg_factor=denorm)
    return out
