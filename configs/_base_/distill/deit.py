# DeiT distillation (Touvron et al., ICML 2021; seed note 000) for a student
# with a distillation token (DeiTDistillClsHead): its two heads' scores,
# every teacher's class scores, and the soft multi-teacher loss. A config
# lists this after its student config and wires these into its Distiller
# with student_loss_weight=0 (the loss holds the label term).
deit_student_recorders = dict(
    cls=dict(type='ModuleOutputs', source='head.layers.head'),
    dist=dict(type='ModuleOutputs', source='head.layers.head_dist'))
deit_teacher_recorders = dict(
    logits=dict(type='MethodOutputs', source='head.forward'))
deit_losses = dict(
    loss_deit=dict(
        type='MultiTeacherDistillationLoss', mode='soft', alpha=0.5, tau=3.0,
        inputs=dict(cls_score='student.cls', dist_score='student.dist',
                    teacher_scores='teachers.logits', label='data.gt_label')))
