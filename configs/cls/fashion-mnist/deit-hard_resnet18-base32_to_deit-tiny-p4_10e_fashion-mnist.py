# DeiT distillation, hard form (the paper's best), one CNN teacher, on
# Fashion-MNIST:
#   (1 - a) CE(psi(Z_cls), y) + a CE(psi(Z_dist), argmax Z_t)
_base_ = ['./deit-soft_resnet18-base32_to_deit-tiny-p4_10e_fashion-mnist.py']

model = dict(distill_losses=dict(loss_deit=dict(mode='hard')))
