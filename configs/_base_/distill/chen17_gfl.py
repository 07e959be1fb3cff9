# Chen et al. (NeurIPS 2017) classification distillation in its sigmoid form
# for a GFL head (GFLHeadDistiller.loss_cls_kd): a per-class binary soft
# cross-entropy at every location the head trains on, background locations
# x1.5, modulated by |p_t - p_s|^2 as GFL's QFL is (gamma). mu = 0.75 keeps
# most of GFL's quality focal loss (the paper's 0.5 halves it, which costs
# mAP here; README), and loss_weight 4 makes the soft term's weight
# (1 - mu) * 4 = 1. A config lists this after its own bases and uses
# {{_base_.chen17_gfl_cls_kd}} as a whole value.
chen17_gfl_cls_kd = dict(type='WeightedSoftCELoss', use_sigmoid=True,
                         mu=0.75, loss_weight=4.0, temperature=1.0,
                         bg_weight=1.5, gamma=2.0)
