# DeiT distillation (Touvron et al., ICML 2021; the project's seed note 000),
# soft form, one CNN teacher:
#   (1 - a) CE(psi(Z_cls), y) + a tau^2 KL(psi(Z_t / tau) || psi(Z_dist / tau))
# The class head learns the labels, the distillation-token head the teacher;
# inference averages the two. The student is the ViT of
# vit-tiny-p4_10e_toycls.py with a distillation token.
_base_ = ['../deit-tiny-p4_10e_toycls.py',
          '../../_base_/distill/deit.py']

teachers = dict(
    cnn=dict(config='{{ fileDirname }}/../resnet18-base32_10e_toycls.py',
             checkpoint='work_dirs/demo/cls_teacher_cnn/'
             'resnet18-base32_10e_toycls.pth'))

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teachers=teachers,
    input_shape=(3, 32, 32),
    # the DeiT loss holds the label term: the student's own loss is not
    # added again
    student_loss_weight=0.,
    student_recorders={{_base_.deit_student_recorders}},
    teacher_recorders={{_base_.deit_teacher_recorders}},
    distill_losses={{_base_.deit_losses}})

custom_hooks = [dict(type='TeacherEvalHook')]
