# Seed note 000, DeiT-soft/DeiT.CNN/2: ResNet-50 and DeiT-S teachers.
_base_ = ['./deit-soft_resnet50_to_deit-small-distilled_8xb8_cifar100-'
          '224px.py']
model = dict(
    teachers=dict(
        deit=dict(config='{{ fileDirname }}/deit-small_8xb8_cifar100-'
                  '224px.py',
                  checkpoint='work_dirs/deit-small_8xb8_cifar100-224px/'
                  'best_accuracy_top1.pth')))
