# The seed note 000 student: DeiT-S with a distillation token and its own
# head (kdtools' DeiTDistillClsHead; it exports as mmpretrain's DeiTClsHead)
# on CIFAR-100 at 224x224. Start it from ImageNet DeiT-S weights with
# `load_from=...`.
_base_ = ['./deit-small_8xb8_cifar100-224px.py']
model = dict(
    backbone=dict(type='mmpretrain.DistilledVisionTransformer'),
    head=dict(type='kdtools.DeiTDistillClsHead'))
