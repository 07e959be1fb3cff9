# CIFAR-100 (mmpretrain's CIFAR100 dataset: the python batches in
# data/cifar100/cifar-100-python/) resized to 224x224, for fine-tuning
# ImageNet-shaped models as the project's seed note 000 does.
dataset_type = 'mmpretrain.CIFAR100'
data_root = 'data/cifar100/'
data_preprocessor = dict(
    type='mmpretrain.ClsDataPreprocessor',
    num_classes=100,
    mean=[129.304, 124.070, 112.434],
    std=[68.170, 65.392, 70.418],
    to_rgb=False)

train_pipeline = [
    dict(type='mmpretrain.RandomCrop', crop_size=32, padding=4),
    dict(type='mmpretrain.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.Resize', scale=224),
    dict(type='mmpretrain.PackInputs'),
]
test_pipeline = [
    dict(type='mmpretrain.Resize', scale=224),
    dict(type='mmpretrain.PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    dataset=dict(type=dataset_type, data_root=data_root, split='test',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
