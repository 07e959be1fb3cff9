# CrossKD on COCO, the authors' RetinaNet setting (Wang et al., CVPR 2024;
# their configs/crosskd/crosskd_r50_retinanet_r101_fpn_2x_coco.py):
# RetinaNet R-101 2x (the model zoo's checkpoint) teaches mmdet's RetinaNet
# R-50 2x. Cross-head features after the student's 3rd of 4 tower convs;
# QFL-weighted sigmoid KD on the classes, GIoU between the decoded boxes
# weighted by the teacher's top score (both weight 1). Paper: 37.4 -> 39.7
# box AP (the authors' README). Put COCO in data/coco/ (mmdet's layout).
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_2x_coco.py']
default_scope = 'kdtools'

teacher_config = 'mmdet::retinanet/retinanet_r101_fpn_2x_coco.py'
teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_r101_fpn_2x_coco/retinanet_r101_fpn_2x_coco_20200131-5560aee8.pth'  # noqa: E501

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    head_distillers=dict(
        crosskd=dict(
            type='CrossKDRetinaHeadDistiller',
            loss_cls_kd=dict(type='KDQualityFocalLoss', beta=1.0,
                             loss_weight=1.0),
            loss_reg_kd=dict(type='mmdet.GIoULoss', loss_weight=1.0),
            reused_teacher_head_idx=3)))

auto_scale_lr = dict(enable=True, base_batch_size=16)
custom_hooks = [dict(type='TeacherEvalHook')]
