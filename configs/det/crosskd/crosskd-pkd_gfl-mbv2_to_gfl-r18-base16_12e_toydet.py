# CrossKD + PKD on the embedded data, combined as the authors combine them:
# the CrossKD head terms plus PKD on every FPN level (weight 6, the authors'
# GFL setting; a 1x1 adapter per level for the 64- vs 128-channel FPNs).
_base_ = ['./crosskd_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py']

model = dict(
    student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    distill_losses={
        f'loss_pkd_p{i + 3}': dict(
            type='PKDLoss', loss_weight=6.0,
            inputs=dict(preds_S=f'student.fpn.{i}',
                        preds_T=f'teacher.fpn.{i}'),
            adapter=dict(type='ConvAdapter'))
        for i in range(3)})
