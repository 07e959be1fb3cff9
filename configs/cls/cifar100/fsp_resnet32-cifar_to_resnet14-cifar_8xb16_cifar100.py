# Seed note 001 (Yim et al., CVPR 2017) on CIFAR-100: ResNet-32 -> ResNet-14
# by FSP. Stage 1 (the first fsp_epochs epochs) minimises the FSP terms
# alone; stage 2 trains the task with the student's own 200-epoch schedule,
# shifted by fsp_epochs.
_base_ = ['./resnet14-cifar_8xb16_cifar100.py',
          '../../_base_/distill/fsp_resnet_cifar.py']

teacher_config = '{{ fileDirname }}/resnet32-cifar_8xb16_cifar100.py'
teacher_ckpt = 'work_dirs/resnet32-cifar_8xb16_cifar100/' \
    'best_accuracy_top1.pth'
fsp_epochs = 20

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    input_shape=(3, 32, 32),
    student_recorders={{_base_.fsp_recorders}},
    teacher_recorders={{_base_.fsp_recorders}},
    distill_losses={{_base_.fsp_losses}},
    loss_schedules=dict(
        student=dict(start_epoch=fsp_epochs),
        loss_fsp_stage1=dict(stop_epoch=fsp_epochs),
        loss_fsp_stage2=dict(stop_epoch=fsp_epochs),
        loss_fsp_stage3=dict(stop_epoch=fsp_epochs)))
train_cfg = dict(max_epochs=fsp_epochs + 200)
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True,
    milestones=[fsp_epochs + 100, fsp_epochs + 150], gamma=0.1)
# stage 2 starts a fresh optimisation (stage 1's Adam moments would shrink
# its steps)
custom_hooks = [dict(type='TeacherEvalHook'),
                dict(type='OptimizerResetHook', epochs=[fsp_epochs])]
