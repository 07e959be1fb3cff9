# Chen et al. (NeurIPS 2017) in full on COCO, two-stage: Faster R-CNN R-101
# (mmdet's faster-rcnn_r101_fpn_2x checkpoint) teaches Faster R-CNN R-50:
# hint learning on the FPN levels, classification distillation and bounded
# regression in the RPN (teacher read at the same anchors) and in the R-CNN
# head (the teacher's RoI head run on the student's sampled RoIs).
# Put COCO in data/coco/.
_base_ = ['../faster-rcnn_r50_fpn_1x_coco.py']
default_scope = 'kdtools'

teacher_config = 'mmdet::faster_rcnn/faster-rcnn_r101_fpn_2x_coco.py'
# the published checkpoint (the model zoo's metafile), downloaded once
# into the torch hub cache; offline, the error names the file to put there
teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/faster_rcnn_r101_fpn_2x_coco/faster_rcnn_r101_fpn_2x_coco_bbox_mAP-0.398_20200504_210455-1d2dac9c.pth'  # noqa: E501

chen17_cls = dict(type='WeightedSoftCELoss', mu=0.5, temperature=1.0,
                  bg_weight=1.5)
chen17_reg = dict(type='TeacherBoundedRegressionLoss', margin=0.0,
                  loss_weight=0.5)

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    input_shape=(3, 256, 256),
    student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    distill_losses={
        f'loss_hint_p{i + 2}': dict(
            type='FeatureImitationLoss', loss_weight=1.0,
            inputs=dict(preds_S=f'student.fpn.{i}',
                        preds_T=f'teacher.fpn.{i}'),
            adapter=dict(type='ConvAdapter'))
        for i in range(5)
    },
    head_distillers=dict(
        rpn=dict(type='AnchorHeadDistiller', student_head='rpn_head',
                 loss_cls_kd=dict(chen17_cls, use_sigmoid=True),
                 loss_bbox_kd=chen17_reg),
        rcnn=dict(type='RoIHeadDistiller', student_head='roi_head',
                  loss_cls_kd=chen17_cls, loss_bbox_kd=chen17_reg)))

custom_hooks = [dict(type='TeacherEvalHook')]
