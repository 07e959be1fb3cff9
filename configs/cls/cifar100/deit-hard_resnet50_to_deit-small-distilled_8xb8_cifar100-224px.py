# Seed note 000, DeiT-hard/CNN/1.
_base_ = ['./deit-soft_resnet50_to_deit-small-distilled_8xb8_cifar100-'
          '224px.py']
model = dict(distill_losses=dict(loss_deit=dict(mode='hard')))
