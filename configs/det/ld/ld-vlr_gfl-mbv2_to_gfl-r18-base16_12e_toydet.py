# LD on the main region plus the valuable localization region: priors that
# are not positives but overlap a ground-truth box g with
# alpha * gamma_g <= DIoU < gamma_g, gamma_g the IoU that makes a prior
# positive for g; 'atss' takes it from the student's ATSS assigner (mean +
# std of the IoUs of g's topk nearest priors per level), as Zheng et al. do.
# The VLR term is divided by 16 (the authors' LDHead), so its weight here is
# theirs.
_base_ = ['./ld_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py']

model = dict(
    head_distillers=dict(
        ld=dict(
            loss_vlr_ld=dict(type='LocalizationDistillationLoss',
                             temperature=10, loss_weight=0.25),
            vlr=dict(pos_iou_thr='atss', alpha=0.25,
                     iou_mode='diou'))))
