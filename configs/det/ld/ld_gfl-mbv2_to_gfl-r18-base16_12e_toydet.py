# Localization distillation (Zheng et al., CVPR 2022) on the main region:
# the student-sized GFL learns the box-edge distributions of the GFL on an
# ImageNet MobileNetV2, at the student's own ATSS positives. Everything but
# `model` is the student's own config.
_base_ = ['../gfl_r18-base16_fpn_12e_toydet.py']

teacher_config = '{{ fileDirname }}/../gfl_mobilenetv2_fpn_12e_toydet.py'
teacher_ckpt = 'work_dirs/demo/teacher/gfl_mobilenetv2_fpn_12e_toydet.pth'

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    head_distillers=dict(
        ld=dict(
            type='GFLHeadDistiller',
            loss_ld=dict(type='LocalizationDistillationLoss', temperature=10,
                         loss_weight=0.25))))

custom_hooks = [dict(type='TeacherEvalHook')]
