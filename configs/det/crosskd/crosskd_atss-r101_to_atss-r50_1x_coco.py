# CrossKD on COCO, the authors' ATSS setting (Wang et al., CVPR 2024; their
# configs/crosskd/crosskd_r50_atss_r101_fpn_1x_coco.py): ATSS R-101 1x (the
# model zoo's checkpoint) teaches mmdet's ATSS R-50 1x. Cross-head features
# after the student's 3rd of 4 tower convs; QFL-weighted sigmoid KD on the
# classes, GIoU between the decoded boxes weighted by the teacher's top
# score, sigmoid cross-entropy toward the teacher's centerness on the
# positives (all weight 1). The authors ran 8 images per GPU with the
# learning rate scaled from 0.01 at 16. Paper: 39.4 -> 41.8 box AP (the
# authors' README).
_base_ = ['mmdet::atss/atss_r50_fpn_1x_coco.py']
default_scope = 'kdtools'

teacher_config = 'mmdet::atss/atss_r101_fpn_1x_coco.py'
teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/atss/atss_r101_fpn_1x_coco/atss_r101_fpn_1x_20200825-dfcadd6f.pth'  # noqa: E501

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    head_distillers=dict(
        crosskd=dict(
            type='CrossKDATSSHeadDistiller',
            loss_cls_kd=dict(type='KDQualityFocalLoss', beta=1.0,
                             loss_weight=1.0),
            loss_reg_kd=dict(type='mmdet.GIoULoss', loss_weight=1.0),
            loss_center_kd=dict(type='mmdet.CrossEntropyLoss',
                                use_sigmoid=True, loss_weight=1.0),
            reused_teacher_head_idx=3)))

train_dataloader = dict(batch_size=8)
auto_scale_lr = dict(enable=True, base_batch_size=16)
custom_hooks = [dict(type='TeacherEvalHook')]
