# The two-stage student for COCO: mmdet's Faster R-CNN R-50 1x config as is.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py']
