# The DeiT-style student: the ViT of vit-tiny-p4_32px.py with a distillation
# token (mmpretrain's DistilledVisionTransformer) and its own head
# (kdtools' DeiTDistillClsHead: class head trained with labels, distillation
# head by the teachers, the two averaged at inference).
_base_ = './vit-tiny-p4_32px.py'
model = dict(
    backbone=dict(type='mmpretrain.DistilledVisionTransformer'),
    head=dict(type='kdtools.DeiTDistillClsHead'))
