# Seed note 000, DeiT-hard/DeiT.CNN/2.
_base_ = ['./deit-soft_resnet50-and-deit-small_to_deit-small-distilled_'
          '8xb8_cifar100-224px.py']
model = dict(distill_losses=dict(loss_deit=dict(mode='hard')))
