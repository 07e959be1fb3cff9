# CrossKD + PKD on COCO, as the authors combine them for ATSS (their
# configs/crosskd+pkd/): the CrossKD head terms of
# crosskd_atss-r101_to_atss-r50_1x_coco.py plus PKD on every FPN level (weight 1.0).
# Paper: 41.8 box AP (the authors' README).
_base_ = ['./crosskd_atss-r101_to_atss-r50_1x_coco.py']

model = dict(
    student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    distill_losses={
        f'loss_pkd_p{i + 3}': dict(
            type='PKDLoss', loss_weight=1.0,
            inputs=dict(preds_S=f'student.fpn.{i}',
                        preds_T=f'teacher.fpn.{i}'))
        for i in range(5)})
