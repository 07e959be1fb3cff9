# FSP (Yim et al., CVPR 2017; seed note 001) on Fashion-MNIST: ResNet-32 ->
# ResNet-14, 2 epochs of the FSP terms alone, then the student's own 10
# epochs, in one run (the schedule is in the fragment).
_base_ = ['./resnet14-cifar_10e_fashion-mnist.py',
          '../../_base_/distill/fsp_resnet_cifar.py']

model = dict(
    _delete_=True,
    type='Distiller',
    student={{_base_.model}},
    teacher=dict(
        config='{{ fileDirname }}/resnet32-cifar_10e_fashion-mnist.py',
        checkpoint='work_dirs/resnet32-cifar_10e_fashion-mnist/epoch_10.pth'),
    input_shape=(1, 32, 32),
    student_recorders={{_base_.fsp_recorders}},
    teacher_recorders={{_base_.fsp_recorders}},
    distill_losses={{_base_.fsp_losses}},
    loss_schedules={{_base_.fsp_loss_schedules}})

train_cfg = {{_base_.fsp_train_cfg}}
param_scheduler = {{_base_.fsp_param_scheduler}}
custom_hooks = {{_base_.fsp_custom_hooks}}
