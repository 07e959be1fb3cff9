# CrossKD on COCO, the authors' FCOS setting (Wang et al., CVPR 2024; their
# configs/crosskd/crosskd_r50_fcos_r101-2x-ms_caffe_fpn_gn-head_2x_ms_coco.py):
# FCOS R-101 caffe, GN head, ms 640-800, 2x (the model zoo's checkpoint)
# teaches mmdet's FCOS R-50 with the same recipe. Cross-head features after
# the student's 2nd of 4 tower convs; QFL-weighted sigmoid KD on the classes
# (weight 0.4) and IoU between the decoded boxes weighted by the teacher's
# top score (weight 0.75), both over the positives' centerness sum.
# Paper: 38.5 -> 41.1 box AP (the authors' README).
_base_ = ['mmdet::fcos/fcos_r50-caffe_fpn_gn-head_ms-640-800-2x_coco.py']
default_scope = 'kdtools'

teacher_config = \
    'mmdet::fcos/fcos_r101-caffe_fpn_gn-head_ms-640-800-2x_coco.py'
teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/fcos/fcos_r101_caffe_fpn_gn-head_mstrain_640-800_2x_coco/fcos_r101_caffe_fpn_gn-head_mstrain_640-800_2x_coco-511424d6.pth'  # noqa: E501

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    head_distillers=dict(
        crosskd=dict(
            type='CrossKDFCOSHeadDistiller',
            loss_cls_kd=dict(type='KDQualityFocalLoss', beta=1.0,
                             loss_weight=0.4),
            loss_reg_kd=dict(type='mmdet.IoULoss', loss_weight=0.75),
            reused_teacher_head_idx=2)))

auto_scale_lr = dict(enable=True, base_batch_size=16)
custom_hooks = [dict(type='TeacherEvalHook')]
