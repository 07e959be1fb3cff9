# FSP (Yim et al., CVPR 2017; seed note 001): ResNet-32 -> ResNet-14. The
# FSP matrix of each stage (its input x its output, max-pooled to one size)
# is taught in stage 1 (epochs 0-1: the FSP terms alone, so only the layers
# they reach move), then stage 2 trains the task as the student's own config
# does (epochs 2-11: the baseline's 10 epochs and schedule, restarted by
# OptimizerResetHook). Both stages in this one config and one tools/train.py
# run (the schedule is in the fragment); the switch is by epoch, so it
# survives a resume.
_base_ = ['../resnet14-cifar_10e_toycls.py',
          '../../_base_/distill/fsp_resnet_cifar.py']

teacher_config = '{{ fileDirname }}/../resnet32-cifar_10e_toycls.py'
teacher_ckpt = 'work_dirs/demo/cls_teacher_r32/resnet32-cifar_10e_toycls.pth'

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    input_shape=(3, 32, 32),
    student_recorders={{_base_.fsp_recorders}},
    teacher_recorders={{_base_.fsp_recorders}},
    distill_losses={{_base_.fsp_losses}},
    loss_schedules={{_base_.fsp_loss_schedules}})

train_cfg = {{_base_.fsp_train_cfg}}
param_scheduler = {{_base_.fsp_param_scheduler}}
custom_hooks = {{_base_.fsp_custom_hooks}}
