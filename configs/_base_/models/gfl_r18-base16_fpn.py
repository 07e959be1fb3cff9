# The student-sized GFL: the teacher's architecture (gfl_r18_fpn.py) at a
# quarter of the width (ResNet-18 with 16 base channels, 64-channel neck and
# head).
_base_ = './gfl_r18_fpn.py'
model = dict(
    backbone=dict(base_channels=16),
    neck=dict(in_channels=[32, 64, 128], out_channels=64),
    bbox_head=dict(in_channels=64, feat_channels=64))
