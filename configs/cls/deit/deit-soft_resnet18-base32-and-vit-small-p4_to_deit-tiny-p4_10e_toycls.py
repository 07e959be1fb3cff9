# DeiT distillation, soft form, two teachers of different architectures (a
# CNN and a ViT; seed note 000):
#   (1 - a) CE(psi(Z_cls), y) + a tau^2 / 2 sum_i KL(psi(Z_ti / tau) || ...)
_base_ = ['./deit-soft_resnet18-base32_to_deit-tiny-p4_10e_toycls.py']

model = dict(
    teachers=dict(
        vit=dict(config='{{ fileDirname }}/../vit-small-p4_10e_toycls.py',
                 checkpoint='work_dirs/demo/cls_teacher_vit/'
                 'vit-small-p4_10e_toycls.pth')))
