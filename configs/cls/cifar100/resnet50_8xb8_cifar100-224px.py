# ResNet-50 fine-tuned on CIFAR-100 at 224x224: the CNN teacher of the seed
# note 000 runs. Start it from ImageNet weights (mmpretrain's resnet50
# checkpoint) with `load_from=...` or `--cfg-options load_from=...`.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    '../../_base_/datasets/cifar100_224px.py',
    '../../_base_/schedules/schedule_cls_finetune_30e.py',
    '../../_base_/default_runtime.py'
]
model = dict(
    _scope_='mmpretrain',
    data_preprocessor={{_base_.data_preprocessor}},
    head=dict(num_classes=100))
train_dataloader = dict(batch_size=8)
optim_wrapper = dict(optimizer=dict(lr=1e-4))
default_hooks = dict(
    checkpoint=dict(save_best='accuracy/top1', rule='greater'))
