# CrossKD on COCO, the authors' GFL setting (Wang et al., CVPR 2024; their
# configs/crosskd/crosskd_r50_gflv1_r101-2x-ms_fpn_1x_coco.py): GFL R-101
# (ms, 2x; the model zoo's checkpoint) teaches mmdet's GFL R-50 1x. The
# student's tower features after its 3rd of 4 convs go through the teacher's
# 4th conv and predictors; QFL-weighted sigmoid KD on the classes (weight
# 1), KL over the edge bins (T=1, summed, weight 4). Paper: 40.2 -> 43.7
# box AP (the authors' README). Put COCO in data/coco/ (mmdet's layout).
_base_ = ['mmdet::gfl/gfl_r50_fpn_1x_coco.py']
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
    head_distillers=dict(
        crosskd=dict(
            type='CrossKDGFLHeadDistiller',
            loss_cls_kd=dict(type='KDQualityFocalLoss', beta=1.0,
                             loss_weight=1.0),
            loss_reg_kd=dict(type='LocalizationDistillationLoss',
                             temperature=1.0, class_reduction='sum',
                             loss_weight=4.0),
            reused_teacher_head_idx=3)))

# the authors' runs: 2 images per GPU, lr 0.01 at a total batch of 16
auto_scale_lr = dict(enable=True, base_batch_size=16)
custom_hooks = [dict(type='TeacherEvalHook')]
