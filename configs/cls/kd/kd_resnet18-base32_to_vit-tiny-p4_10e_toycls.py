# Hinton et al. (2015) soft targets: the small ViT learns the CNN teacher's
# class distribution at temperature 4 beside its own label loss. Everything
# but `model` is the student's own config.
_base_ = ['../vit-tiny-p4_10e_toycls.py']

teacher_config = '{{ fileDirname }}/../resnet18-base32_10e_toycls.py'
teacher_ckpt = 'work_dirs/demo/cls_teacher_cnn/resnet18-base32_10e_toycls.pth'

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    input_shape=(3, 32, 32),
    # mmpretrain heads: `head.forward` returns the class scores
    student_recorders=dict(
        logits=dict(type='MethodOutputs', source='head.forward')),
    teacher_recorders=dict(
        logits=dict(type='MethodOutputs', source='head.forward')),
    distill_losses=dict(
        loss_kd=dict(
            type='KDLoss', temperature=4.0, loss_weight=1.0,
            inputs=dict(preds_S='student.logits', preds_T='teacher.logits'))))

custom_hooks = [dict(type='TeacherEvalHook')]
