# LD on the main region and the valuable localization region, plus the
# optional classification KD that Zheng et al. (CVPR 2022) pair with LD
# (KD on the classification head next to LD on the box head). The
# classification term is the sigmoid soft term of the Chen'17 configs (every
# location the head trains on, background locations x1.5, focal-modulated;
# the head's own quality focal loss scaled by mu = 0.75).
_base_ = ['./ld-vlr_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py']

model = dict(
    head_distillers=dict(
        ld=dict(
            loss_cls_kd=dict(type='WeightedSoftCELoss', use_sigmoid=True,
                             mu=0.75, loss_weight=4.0, temperature=1.0,
                             bg_weight=1.5, gamma=2.0))))
