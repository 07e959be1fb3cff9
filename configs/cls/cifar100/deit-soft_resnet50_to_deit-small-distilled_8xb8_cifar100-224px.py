# Seed note 000, DeiT-soft/CNN/1: the ResNet-50 teacher, soft distillation
# into the distillation token, the label loss on the class token.
_base_ = ['./deit-small-distilled_8xb8_cifar100-224px.py',
          '../../_base_/distill/deit.py']

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
    student_recorders={{_base_.deit_student_recorders}},
    teacher_recorders={{_base_.deit_teacher_recorders}},
    distill_losses={{_base_.deit_losses}})

custom_hooks = [dict(type='TeacherEvalHook')]
