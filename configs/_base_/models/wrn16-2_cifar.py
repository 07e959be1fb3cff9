# WRN-16-2 for CIFAR (n = 2, widths 32/64/128): a Fast-Datafree / SSD-KD
# student of WRN-40-2 (CRD's wrn_16_2); configs/_base_/models/wrn40-2_cifar.py
# otherwise.
_base_ = ['./wrn40-2_cifar.py']
model = dict(backbone=dict(depth=16, widen_factor=2))
