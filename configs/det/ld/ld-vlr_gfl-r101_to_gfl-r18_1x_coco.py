# Localization distillation with VLR on COCO, the paper's setup (Zheng et
# al., CVPR 2022, Table 9; mmdet's configs/ld/ld_r18-gflv1-r101_fpn_1x_coco.py
# without VLR): GFL R-101 (mmdet's gfl_r101_fpn_ms-2x checkpoint, 44.7 box AP)
# teaches GFL R-18. Put COCO in data/coco/ (mmdet's layout).
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
    head_distillers=dict(
        ld=dict(
            type='GFLHeadDistiller',
            loss_ld=dict(type='LocalizationDistillationLoss', temperature=10,
                         loss_weight=0.25),
            loss_vlr_ld=dict(type='LocalizationDistillationLoss',
                             temperature=10, loss_weight=0.25),
            vlr=dict(pos_iou_thr='atss', alpha=0.25,
                     iou_mode='diou'))))

custom_hooks = [dict(type='TeacherEvalHook')]
