# FSP (Yim et al., CVPR 2017) on CIFAR ResNets: the recorders and the three
# loss terms, one per stage (the FSP matrix of the stage's input and output,
# max-pooled to one size), for teacher and student alike, and the two-stage
# schedule: `fsp_epochs` of the FSP terms alone, then the student's own 10
# epochs. A config lists this after its student config and wires the
# `fsp_*` values into its Distiller and schedule.
fsp_recorders = dict(
    stage1_in=dict(type='ModuleInputs', source='backbone.layer1'),
    stage1_out=dict(type='ModuleOutputs', source='backbone.layer1'),
    stage2_in=dict(type='ModuleInputs', source='backbone.layer2'),
    stage2_out=dict(type='ModuleOutputs', source='backbone.layer2'),
    stage3_in=dict(type='ModuleInputs', source='backbone.layer3'),
    stage3_out=dict(type='ModuleOutputs', source='backbone.layer3'))
fsp_losses = {
    f'loss_fsp_stage{i}': dict(
        type='FSPLoss', loss_weight=1.0,
        inputs=dict(s_first=f'student.stage{i}_in.0',
                    s_second=f'student.stage{i}_out',
                    t_first=f'teacher.stage{i}_in.0',
                    t_second=f'teacher.stage{i}_out'))
    for i in (1, 2, 3)
}

fsp_epochs = 2
# stage 1: the FSP terms alone; stage 2: the student's own loss alone
fsp_loss_schedules = dict(
    student=dict(start_epoch=fsp_epochs),
    loss_fsp_stage1=dict(stop_epoch=fsp_epochs),
    loss_fsp_stage2=dict(stop_epoch=fsp_epochs),
    loss_fsp_stage3=dict(stop_epoch=fsp_epochs))
fsp_train_cfg = dict(max_epochs=fsp_epochs + 10)
# stage 1 at the base learning rate after the warm-up; stage 2 the student's
# cosine decay over its 10 epochs
fsp_param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=fsp_epochs,
         end=fsp_epochs + 10, eta_min=1e-5, convert_to_iter_based=True)
]
# stage 2 starts a fresh optimisation (stage 1's Adam moments would shrink
# its steps)
fsp_custom_hooks = [dict(type='TeacherEvalHook'),
                    dict(type='OptimizerResetHook', epochs=[fsp_epochs])]
