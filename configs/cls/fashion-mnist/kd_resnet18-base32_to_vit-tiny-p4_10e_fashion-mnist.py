# Hinton et al. (2015) soft targets on Fashion-MNIST: the small ViT learns
# the CNN teacher's class distribution at temperature 4 beside its own label
# loss. Train the teacher first (tools/train.py
# configs/cls/fashion-mnist/resnet18-base32_10e_fashion-mnist.py writes the
# checkpoint named here).
_base_ = ['./vit-tiny-p4_10e_fashion-mnist.py',
          '../../_base_/distill/kd.py']

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(
        config='{{ fileDirname }}/resnet18-base32_10e_fashion-mnist.py',
        checkpoint='work_dirs/resnet18-base32_10e_fashion-mnist/epoch_10.pth'),
    input_shape=(1, 32, 32),
    student_recorders={{_base_.kd_recorders}},
    teacher_recorders={{_base_.kd_recorders}},
    distill_losses={{_base_.kd_losses}})

custom_hooks = [dict(type='TeacherEvalHook')]
