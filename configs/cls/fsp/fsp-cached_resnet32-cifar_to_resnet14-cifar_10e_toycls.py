# FSP with the teacher's FSP matrices cached (seed note 001): the teacher
# never changes, so once a training image's matrices are computed its
# teacher forward is skipped for the rest of stage 1. Caching needs a
# deterministic training pipeline, so this config trains without the random
# crop of fsp_resnet32-cifar_to_resnet14-cifar_10e_toycls.py (in both
# stages: one pipeline per run).
_base_ = ['./fsp_resnet32-cifar_to_resnet14-cifar_10e_toycls.py']

model = dict(teacher_cache=True)
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='mmpretrain.LoadImageFromFile'),
    dict(type='mmpretrain.PackInputs')
]))
