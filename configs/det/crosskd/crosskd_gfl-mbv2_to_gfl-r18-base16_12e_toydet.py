# CrossKD (Wang et al., CVPR 2024) on the embedded data: the student-sized
# GFL's head features after its first tower conv go through the MobileNetV2
# GFL teacher's last tower conv and prediction layers, and those cross-head
# predictions learn the teacher's (QFL-weighted sigmoid KD on the classes,
# KL on the edge distributions); the student's head trains on the ground
# truth alone. The two heads have two tower convs (the authors reuse the
# last of four: reused_teacher_head_idx=3 on COCO, 1 here) and different
# widths (64 vs 128 channels): a trainable 1x1 adapter per branch maps the
# student's features. Everything but `model` is the student's own config.
_base_ = ['../gfl_r18-base16_fpn_12e_toydet.py']

teacher_config = '{{ fileDirname }}/../gfl_mobilenetv2_fpn_12e_toydet.py'
teacher_ckpt = 'work_dirs/demo/teacher/gfl_mobilenetv2_fpn_12e_toydet.pth'

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    head_distillers=dict(
        crosskd=dict(
            type='CrossKDGFLHeadDistiller',
            loss_cls_kd=dict(type='KDQualityFocalLoss', beta=1.0,
                             loss_weight=1.0),
            loss_reg_kd=dict(type='LocalizationDistillationLoss',
                             temperature=1.0, class_reduction='sum',
                             loss_weight=4.0),
            reused_teacher_head_idx=1,
            adapter=dict(type='ConvAdapter'))))

custom_hooks = [dict(type='TeacherEvalHook')]
