# PKD on COCO, the paper's RetinaNet setting (Cao et al., NeurIPS 2022, as
# MMRazor's configs/distill/mmdet/pkd/pkd_fpn_retina_x101_retina-r50_2x_coco
# .py ships it): RetinaNet X-101-64x4d 1x (the model zoo's checkpoint)
# teaches mmdet's RetinaNet R-50 2x through the Pearson correlation of the
# first four FPN levels (weight 10 each; equal widths, no adapter).
# Paper: 37.4 -> 40.8 box AP. Put COCO in data/coco/ (mmdet's layout).
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_2x_coco.py']
default_scope = 'kdtools'

teacher_config = 'mmdet::retinanet/retinanet_x101-64x4d_fpn_1x_coco.py'
teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_x101_64x4d_fpn_1x_coco/retinanet_x101_64x4d_fpn_1x_coco_20200130-366f5af1.pth'  # noqa: E501

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
    distill_losses={
        f'loss_pkd_p{i + 3}': dict(
            type='PKDLoss', loss_weight=10.0,
            inputs=dict(preds_S=f'student.fpn.{i}',
                        preds_T=f'teacher.fpn.{i}'))
        for i in range(4)})

custom_hooks = [dict(type='TeacherEvalHook')]
