# Structured knowledge distillation (Liu et al., CVPR 2019), pixel-wise term:
# the quarter-width FCN learns the PSPNet's class distribution at every pixel
# (KL, ignore index left out). Everything but `model` is the student's own
# config. The teacher is trained by
# `tools/analysis_tools/bench_quality.py --task seg` (or tools/train.py
# configs/seg/pspnet_mobilenetv2-d8_8k_toyseg.py).
_base_ = ['../fcn_r18-base16-d8_2k_toyseg.py']

teacher_config = '{{ fileDirname }}/../pspnet_mobilenetv2-d8_8k_toyseg.py'
teacher_ckpt = 'work_dirs/demo/seg_teacher/pspnet_mobilenetv2-d8_8k_toyseg.pth'

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    # mmseg heads call self.forward directly: record the method
    student_recorders=dict(
        logits=dict(type='MethodOutputs', source='decode_head.forward')),
    teacher_recorders=dict(
        logits=dict(type='MethodOutputs', source='decode_head.forward')),
    distill_losses=dict(
        loss_pixel=dict(
            type='PixelWiseKDLoss', temperature=1.0, loss_weight=10.0,
            inputs=dict(preds_S='student.logits', preds_T='teacher.logits',
                        gt='data.gt_sem_seg'))))

custom_hooks = [dict(type='TeacherEvalHook')]
