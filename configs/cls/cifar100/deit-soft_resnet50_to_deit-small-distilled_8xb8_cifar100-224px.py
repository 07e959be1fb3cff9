# Seed note 000, DeiT-soft/CNN/1: the ResNet-50 teacher, soft distillation
# into the distillation token, the label loss on the class token.
_base_ = ['./deit-small-distilled_8xb8_cifar100-224px.py']

teachers = dict(
    cnn=dict(config='{{ fileDirname }}/resnet50_8xb8_cifar100-224px.py',
             checkpoint='work_dirs/resnet50_8xb8_cifar100-224px/'
             'best_accuracy_top1.pth'))

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teachers=teachers,
    input_shape=(3, 224, 224),
    student_loss_weight=0.,
    student_recorders=dict(
        cls=dict(type='ModuleOutputs', source='head.layers.head'),
        dist=dict(type='ModuleOutputs', source='head.layers.head_dist')),
    teacher_recorders=dict(
        logits=dict(type='MethodOutputs', source='head.forward')),
    distill_losses=dict(
        loss_deit=dict(
            type='MultiTeacherDistillationLoss', mode='soft', alpha=0.5,
            tau=3.0,
            inputs=dict(cls_score='student.cls', dist_score='student.dist',
                        teacher_scores='teachers.logits',
                        label='data.gt_label'))))
custom_hooks = [dict(type='TeacherEvalHook')]
