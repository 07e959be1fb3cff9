# The peer, for comparison: mmdet's own LD (KnowledgeDistillationSingleStage
# Detector + LDHead) on the same teacher/student pair, data and schedule as
# ld_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py. Trains with tools/train.py;
# being an mmdet model it keeps the teacher inside the detector.
_base_ = ['../gfl_r18-base16_fpn_12e_toydet.py']

model = dict(
    type='mmdet.KnowledgeDistillationSingleStageDetector',
    teacher_config='{{ fileDirname }}/../gfl_mobilenetv2_fpn_12e_toydet.py',
    teacher_ckpt='work_dirs/demo/teacher/gfl_mobilenetv2_fpn_12e_toydet.pth',
    bbox_head=dict(
        type='mmdet.LDHead',
        loss_ld=dict(type='mmdet.KnowledgeDistillationKLDivLoss',
                     loss_weight=0.25, T=10)))
