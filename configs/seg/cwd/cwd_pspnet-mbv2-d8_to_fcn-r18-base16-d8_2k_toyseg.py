# Channel-wise distillation (Shu et al., ICCV 2021) on the score maps: each
# class channel's spatial distribution (softmax over positions, T = 4).
_base_ = ['../fcn_r18-base16-d8_2k_toyseg.py']

teacher_config = '{{ fileDirname }}/../pspnet_mobilenetv2-d8_8k_toyseg.py'
teacher_ckpt = 'work_dirs/demo/seg_teacher/pspnet_mobilenetv2-d8_8k_toyseg.pth'

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    student_recorders=dict(
        logits=dict(type='MethodOutputs', source='decode_head.forward')),
    teacher_recorders=dict(
        logits=dict(type='MethodOutputs', source='decode_head.forward')),
    distill_losses=dict(
        loss_cwd=dict(
            type='ChannelWiseDivergenceLoss', temperature=4.0,
            loss_weight=3.0,
            inputs=dict(preds_S='student.logits',
                        preds_T='teacher.logits'))))

custom_hooks = [dict(type='TeacherEvalHook')]
