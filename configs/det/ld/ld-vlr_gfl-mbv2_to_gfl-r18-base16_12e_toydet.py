# LD on the main region plus the valuable localization region (priors that
# are not positives but overlap a ground-truth box with
# alpha * pos_iou_thr <= IoU < pos_iou_thr).
_base_ = ['./ld_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py']

model = dict(
    head_distillers=dict(
        ld=dict(
            loss_ld_vlr=dict(type='LocalizationDistillationLoss',
                             temperature=10, loss_weight=0.25),
            vlr=dict(pos_iou_thr=0.5, alpha=0.25))))
