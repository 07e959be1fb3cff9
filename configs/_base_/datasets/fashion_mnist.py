# Fashion-MNIST (Xiao et al. 2017): 60,000 training and 10,000 test images,
# 28x28 grey, 10 classes, read by mmpretrain's FashionMNIST from the four
# un-gzipped idx files in `data_root` (`make data-fashion-mnist` writes them
# from Debian's dataset-fashion-mnist package). Images are padded to 32x32
# so the embedded set's 32-px models apply unchanged but for one input
# channel: a model config sets `backbone.in_channels=1` and
# `data_preprocessor=fashion_mnist_preprocessor`.
dataset_type = 'mmpretrain.FashionMNIST'
data_root = 'data/fashion-mnist/'

# grey-level mean and std of the training set (0.2860, 0.3530 in [0, 1])
fashion_mnist_preprocessor = dict(
    type='mmpretrain.ClsDataPreprocessor',
    num_classes=10,
    mean=[72.94],
    std=[90.02],
    to_rgb=False)

train_pipeline = [
    # 28 px padded by 4 on each side, a random 32-px window: shifts of up
    # to +-2 px around the centred 32-px image
    dict(type='mmpretrain.RandomCrop', crop_size=32, padding=4),
    dict(type='mmpretrain.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.PackInputs')
]
test_pipeline = [
    # 28 px padded by 2 on each side is exactly 32: the crop is the centred
    # image, no randomness
    dict(type='mmpretrain.RandomCrop', crop_size=32, padding=2),
    dict(type='mmpretrain.PackInputs')
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        download=False,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        test_mode=True,
        download=False,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
