# DeiT distillation (Touvron et al., ICML 2021; seed note 000), soft form,
# one CNN teacher, on Fashion-MNIST; the embedded-data twin is
# configs/cls/deit/deit-soft_resnet18-base32_to_deit-tiny-p4_10e_toycls.py.
_base_ = ['./deit-tiny-p4_10e_fashion-mnist.py',
          '../../_base_/distill/deit.py']

teachers = dict(
    cnn=dict(
        config='{{ fileDirname }}/resnet18-base32_10e_fashion-mnist.py',
        checkpoint='work_dirs/resnet18-base32_10e_fashion-mnist/epoch_10.pth'))

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teachers=teachers,
    input_shape=(1, 32, 32),
    # the DeiT loss holds the label term
    student_loss_weight=0.,
    student_recorders={{_base_.deit_student_recorders}},
    teacher_recorders={{_base_.deit_teacher_recorders}},
    distill_losses={{_base_.deit_losses}})

custom_hooks = [dict(type='TeacherEvalHook')]
