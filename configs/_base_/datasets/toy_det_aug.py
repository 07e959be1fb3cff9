# The embedded detection set with the students' training augmentation:
# scale jitter (0.75-1.25), random 128x128 crops and horizontal flips.
_base_ = ['./toy_det.py']
train_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(type='mmdet.RandomResize', scale=(128, 128), ratio_range=(0.75, 1.25),
         keep_ratio=True),
    dict(type='mmdet.RandomCrop', crop_size=(128, 128),
         allow_negative_crop=False),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='mmdet.PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
