# Feature imitation (Chen et al. 2017 hint learning / FitNets) on the three
# FPN levels: the student-sized GFL (ResNet-18 at 1/4 width, from scratch)
# learns from the GFL on an ImageNet MobileNetV2 on the embedded detection
# set. Everything but `model` is the student's own config.
_base_ = ['../gfl_r18-base16_fpn_12e_toydet.py']

teacher_config = '{{ fileDirname }}/../gfl_mobilenetv2_fpn_12e_toydet.py'
teacher_ckpt = 'work_dirs/demo/teacher/gfl_mobilenetv2_fpn_12e_toydet.pth'

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    distill_losses=dict(
        loss_hint_p3=dict(
            type='FeatureImitationLoss', loss_weight=1.0,
            inputs=dict(preds_S='student.fpn.0', preds_T='teacher.fpn.0'),
            adapter=dict(type='ConvAdapter')),
        loss_hint_p4=dict(
            type='FeatureImitationLoss', loss_weight=1.0,
            inputs=dict(preds_S='student.fpn.1', preds_T='teacher.fpn.1'),
            adapter=dict(type='ConvAdapter')),
        loss_hint_p5=dict(
            type='FeatureImitationLoss', loss_weight=1.0,
            inputs=dict(preds_S='student.fpn.2', preds_T='teacher.fpn.2'),
            adapter=dict(type='ConvAdapter'))))

custom_hooks = [dict(type='TeacherEvalHook')]
