# Chen et al. (NeurIPS 2017) in full on a one-stage student: hint learning on
# the FPN levels (1x1 adapters) + classification distillation + bounded
# regression.
_base_ = ['./chen17-clsreg_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py']

model = dict(
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
