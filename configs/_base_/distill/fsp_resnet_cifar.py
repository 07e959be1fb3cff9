# FSP (Yim et al., CVPR 2017) on CIFAR ResNets: the recorders and the three
# loss terms, one per stage (the FSP matrix of the stage's input and output,
# max-pooled to one size), for teacher and student alike. A config lists
# this after its student config and wires `fsp_recorders` / `fsp_losses`
# into its Distiller.
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
