# A larger ViT (6 layers, 192-d, 3 heads) on 4x4 patches of 32x32 inputs: the
# transformer teacher of the two-teacher DeiT runs (with the CNN teacher).
_base_ = './vit-tiny-p4_32px.py'
model = dict(
    backbone=dict(arch=dict(embed_dims=192, num_layers=6, num_heads=3,
                            feedforward_channels=768)),
    head=dict(in_channels=192))
