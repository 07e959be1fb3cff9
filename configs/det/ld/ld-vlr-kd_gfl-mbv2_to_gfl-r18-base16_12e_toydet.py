# LD on the main region and the valuable localization region, plus the
# optional classification KD that Zheng et al. (CVPR 2022) pair with LD
# (KD on the classification head next to LD on the box head). The
# classification term is the sigmoid soft term of the Chen'17 configs
# (configs/_base_/distill/chen17_gfl.py).
_base_ = ['./ld-vlr_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py',
          '../../_base_/distill/chen17_gfl.py']

model = dict(
    head_distillers=dict(ld=dict(loss_cls_kd={{_base_.chen17_gfl_cls_kd}})))
