# Chen et al. (NeurIPS 2017) in full on the embedded detection set,
# two-stage: hint learning on the FPN levels; classification distillation
# and teacher-bounded regression in the RPN (same anchors in both) and in
# the R-CNN head (the teacher's RoI head on the student's sampled RoIs).
# Its teacher: `make teachers` (tools/misc/make_teachers.py --tasks
# det-two-stage) trains configs/det/faster-rcnn_mobilenetv2_fpn_12e_toydet.py
# to teacher_ckpt.
_base_ = ['../faster-rcnn_r18-base16_fpn_12e_toydet.py']

teacher_config = '{{ fileDirname }}/../faster-rcnn_mobilenetv2_fpn_12e_toydet.py'  # noqa
teacher_ckpt = 'work_dirs/demo/det-two-stage_teacher/' \
    'faster-rcnn_mobilenetv2_fpn_12e_toydet.pth'

chen17_cls = dict(type='WeightedSoftCELoss', mu=0.5, temperature=1.0,
                  bg_weight=1.5)
# nu = 0.05, not the paper's 0.5: with 0.5 the bounded term cost more than
# the head terms gave on this benchmark (seeds 0 and 1: 0.070 / 0.075
# against 0.081 / 0.085 at 0.05 and 0.085 / 0.088 without it; seed 2, not
# used to choose, did not confirm it: 0.062 at 0.05, 0.066 at 0.5, student
# 0.069; README)
chen17_reg = dict(type='TeacherBoundedRegressionLoss', margin=0.0,
                  loss_weight=0.05)

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    distill_losses={
        f'loss_hint_p{i + 3}': dict(
            type='FeatureImitationLoss', loss_weight=1.0,
            inputs=dict(preds_S=f'student.fpn.{i}',
                        preds_T=f'teacher.fpn.{i}'),
            adapter=dict(type='ConvAdapter'))
        for i in range(3)
    },
    head_distillers=dict(
        rpn=dict(type='AnchorHeadDistiller', student_head='rpn_head',
                 loss_cls_kd=dict(chen17_cls, use_sigmoid=True),
                 loss_bbox_kd=chen17_reg),
        rcnn=dict(type='RoIHeadDistiller', student_head='roi_head',
                  loss_cls_kd=chen17_cls, loss_bbox_kd=chen17_reg)))

custom_hooks = [dict(type='TeacherEvalHook')]
