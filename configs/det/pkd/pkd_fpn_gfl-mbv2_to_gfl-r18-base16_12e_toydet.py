# PKD (Cao et al., NeurIPS 2022) on the embedded data: each FPN level of the
# student-sized GFL imitates the MobileNetV2 GFL teacher's through the
# Pearson correlation of every channel (both standardised per channel, half
# the mean squared difference). The student's FPN has 64 channels, the
# teacher's 128: a 1x1 adapter per level (PKD's own configs pair equal
# widths and need none). Weight 6 per level, as the paper's RetinaNet /
# FCOS students. Everything but `model` is the student's own config.
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
    distill_losses={
        f'loss_pkd_p{i + 3}': dict(
            type='PKDLoss', loss_weight=6.0,
            inputs=dict(preds_S=f'student.fpn.{i}',
                        preds_T=f'teacher.fpn.{i}'),
            adapter=dict(type='ConvAdapter'))
        for i in range(3)})

custom_hooks = [dict(type='TeacherEvalHook')]
