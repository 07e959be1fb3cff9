# FSP (Yim et al., CVPR 2017; seed note 001): ResNet-32 -> ResNet-14. The
# FSP matrix of each stage (its input x its output, max-pooled to one size)
# is taught in stage 1 (epochs 0-1: the FSP terms alone, so only the layers
# they reach move), then stage 2 trains the task as the student's own config
# does (epochs 2-11: the baseline's 10 epochs and schedule). Both stages in
# this one config and one tools/train.py run; the switch is by epoch, so it
# survives a resume.
_base_ = ['../resnet14-cifar_10e_toycls.py',
          '../../_base_/distill/fsp_resnet_cifar.py']

teacher_config = '{{ fileDirname }}/../resnet32-cifar_10e_toycls.py'
teacher_ckpt = 'work_dirs/demo/cls_teacher_r32/resnet32-cifar_10e_toycls.pth'
fsp_epochs = 2

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(config=teacher_config, checkpoint=teacher_ckpt),
    input_shape=(3, 32, 32),
    student_recorders={{_base_.fsp_recorders}},
    teacher_recorders={{_base_.fsp_recorders}},
    distill_losses={{_base_.fsp_losses}},
    # stage 1: the FSP terms alone; stage 2: the student's own loss alone
    loss_schedules=dict(
        student=dict(start_epoch=fsp_epochs),
        loss_fsp_stage1=dict(stop_epoch=fsp_epochs),
        loss_fsp_stage2=dict(stop_epoch=fsp_epochs),
        loss_fsp_stage3=dict(stop_epoch=fsp_epochs)))

train_cfg = dict(max_epochs=fsp_epochs + 10)
# stage 1 at the base learning rate after the warm-up; stage 2 the student's
# cosine decay over its 10 epochs
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=fsp_epochs,
         end=fsp_epochs + 10, eta_min=1e-5, convert_to_iter_based=True)
]
# stage 2 starts a fresh optimisation (stage 1's Adam moments would shrink
# its steps)
custom_hooks = [dict(type='TeacherEvalHook'),
                dict(type='OptimizerResetHook', epochs=[fsp_epochs])]
