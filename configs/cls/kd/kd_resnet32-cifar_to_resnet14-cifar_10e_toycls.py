# Hinton et al. (2015) soft targets on the real training images: the CIFAR
# ResNet-14 learns the ResNet-32 teacher's class distribution at
# temperature 4 beside its own label loss (the "KD on real data" row of the
# data-free benchmark, tools/analysis_tools/bench_datafree.py). Everything
# but `model` is the student's own config.
_base_ = ['../resnet14-cifar_10e_toycls.py', '../../_base_/distill/kd.py']

teacher_config = '{{ fileDirname }}/../resnet32-cifar_10e_toycls.py'
teacher_ckpt = 'work_dirs/demo/cls_teacher_r32/resnet32-cifar_10e_toycls.pth'

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    input_shape=(3, 32, 32),
    student_recorders={{_base_.kd_recorders}},
    teacher_recorders={{_base_.kd_recorders}},
    distill_losses={{_base_.kd_losses}})

custom_hooks = [dict(type='TeacherEvalHook')]
