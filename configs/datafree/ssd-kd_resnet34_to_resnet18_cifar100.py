# SSD-KD on CIFAR-100, ResNet-34 -> ResNet-18 (data in data/cifar100; a
# ResNet-34 teacher trained on CIFAR-100 with mmpretrain's ResNet_CIFAR,
# num_classes=100): the CIFAR-10 config with 100 classes and mmpretrain's
# CIFAR-100 normalisation.
_base_ = ['./ssd-kd_resnet34_to_resnet18_cifar10.py']
teacher_ckpt = 'checkpoints/cifar100_resnet34.pth'
# the teacher's architecture (mmpretrain ships no CIFAR-100 ResNet-34
# config): its CIFAR-10 one with 100 classes
teacher_model = dict(
    type='mmpretrain.ImageClassifier',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor', num_classes=100,
        mean=[129.304, 124.070, 112.434], std=[68.170, 65.392, 70.418],
        to_rgb=False),
    backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=34, num_stages=4,
                  out_indices=(3, ), style='pytorch'),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(type='mmpretrain.LinearClsHead', num_classes=100,
              in_channels=512,
              loss=dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0)))
model = dict(
    student=dict(
        data_preprocessor=dict(num_classes=100,
                               mean=[129.304, 124.070, 112.434],
                               std=[68.170, 65.392, 70.418]),
        head=dict(num_classes=100)),
    teacher=dict(_delete_=True, config=teacher_model,
                 checkpoint=teacher_ckpt))
val_dataloader = dict(dataset=dict(type='mmpretrain.CIFAR100',
                                   data_root='data/cifar100'))
test_dataloader = val_dataloader
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
