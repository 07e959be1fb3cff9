# Hinton et al. (2015) soft targets: the small ViT learns the CNN teacher's
# class distribution at temperature 4 beside its own label loss. Everything
# but `model` is the student's own config.
_base_ = ['../vit-tiny-p4_10e_toycls.py', '../../_base_/distill/kd.py']

teacher_config = '{{ fileDirname }}/../resnet18-base32_10e_toycls.py'
teacher_ckpt = 'work_dirs/demo/cls_teacher_cnn/resnet18-base32_10e_toycls.pth'

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    input_shape=(3, 32, 32),
    # mmpretrain heads: `head.forward` returns the class scores
    student_recorders={{_base_.kd_recorders}},
    teacher_recorders={{_base_.kd_recorders}},
    distill_losses={{_base_.kd_losses}})

custom_hooks = [dict(type='TeacherEvalHook')]
