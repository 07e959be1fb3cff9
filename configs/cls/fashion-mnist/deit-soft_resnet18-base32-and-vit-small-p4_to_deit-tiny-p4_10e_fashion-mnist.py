# DeiT distillation, soft form, two teachers of different architectures (a
# CNN and a ViT; seed note 000) on Fashion-MNIST.
_base_ = ['./deit-soft_resnet18-base32_to_deit-tiny-p4_10e_fashion-mnist.py']

model = dict(
    teachers=dict(
        vit=dict(
            config='{{ fileDirname }}/vit-small-p4_10e_fashion-mnist.py',
            checkpoint='work_dirs/vit-small-p4_10e_fashion-mnist/'
            'epoch_10.pth')))
