# Chen et al. (NeurIPS 2017) classification distillation and teacher-bounded
# regression on a one-stage student, at the student's own ATSS assignment:
#   L_cls = mu * QFL(student) + (1 - mu) * L_soft(P_s, P_t)  (background x1.5)
#   L_reg = L_reg(student) + nu * L_b,  L_b bounded by the teacher (margin m)
# On a dense sigmoid head the soft term is a per-class binary cross-entropy,
# modulated by |p_t - p_s|^2 as GFL's QFL is (gamma), and L_b compares the
# expected edge distances in strides. Those errors are several strides early
# on: with nu = 0.1, L_b was 13.8 at iteration 10 against 2.6 for the whole
# GFL loss, and it cancelled the classification term's gain (held-out seeds
# 5 and 6, README); nu = 0.01 (the paper's 0.5 is for normalised deltas,
# errors of order 1) keeps it below the head's own losses. The soft term's
# settings (mu = 0.75, loss_weight 4) are explained in the fragment.
_base_ = ['../gfl_r18-base16_fpn_12e_toydet.py',
          '../../_base_/distill/chen17_gfl.py']

teacher_config = '{{ fileDirname }}/../gfl_mobilenetv2_fpn_12e_toydet.py'
teacher_ckpt = 'work_dirs/demo/teacher/gfl_mobilenetv2_fpn_12e_toydet.pth'

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    head_distillers=dict(
        chen17=dict(
            type='GFLHeadDistiller',
            loss_cls_kd={{_base_.chen17_gfl_cls_kd}},
            loss_bbox_kd=dict(type='TeacherBoundedRegressionLoss',
                              margin=0.0, loss_weight=0.01))))

custom_hooks = [dict(type='TeacherEvalHook')]
