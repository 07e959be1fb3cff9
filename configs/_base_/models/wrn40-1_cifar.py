# WRN-40-1 for CIFAR (n = 6, widths 16/32/64): a Fast-Datafree / SSD-KD
# student of WRN-40-2 (CRD's wrn_40_1); configs/_base_/models/wrn40-2_cifar.py
# otherwise.
_base_ = ['./wrn40-2_cifar.py']
model = dict(backbone=dict(depth=40, widen_factor=1),
             head=dict(in_channels=64))
