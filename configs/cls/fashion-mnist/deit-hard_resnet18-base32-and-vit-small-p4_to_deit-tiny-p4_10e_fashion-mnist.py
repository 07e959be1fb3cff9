# DeiT distillation, hard form, two teachers (a CNN and a ViT) on
# Fashion-MNIST:
#   (1 - a) CE(psi(Z_cls), y) + a / 2 sum_i CE(psi(Z_dist), argmax Z_ti)
_base_ = ['./deit-soft_resnet18-base32-and-vit-small-p4_to_deit-tiny-p4_'
          '10e_fashion-mnist.py']

model = dict(distill_losses=dict(loss_deit=dict(mode='hard')))
