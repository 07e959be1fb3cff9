# Feature imitation on COCO: GFL R-101 (mmdet's released gfl_r101_fpn_ms-2x
# checkpoint, 44.7 box AP) teaches GFL R-18 on the five FPN levels. Put COCO
# in data/coco/ (mmdet's layout).
_base_ = ['../gfl_r18_fpn_1x_coco.py']
default_scope = 'kdtools'

teacher_config = 'mmdet::gfl/gfl_r101_fpn_ms-2x_coco.py'
# the published checkpoint (the model zoo's metafile), downloaded once
# into the torch hub cache; offline, the error names the file to put there
teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/gfl/gfl_r101_fpn_mstrain_2x_coco/gfl_r101_fpn_mstrain_2x_coco_20200629_200126-dd12f847.pth'  # noqa: E501

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    input_shape=(3, 256, 256),
    student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    distill_losses={
        f'loss_hint_p{i + 3}': dict(
            type='FeatureImitationLoss', loss_weight=1.0,
            inputs=dict(preds_S=f'student.fpn.{i}',
                        preds_T=f'teacher.fpn.{i}'),
            adapter=dict(type='ConvAdapter'))
        for i in range(5)
    })

custom_hooks = [dict(type='TeacherEvalHook')]
