from .anchor_head_distiller import AnchorHeadDistiller
from .base_head_distiller import BaseHeadDistiller
from .deit_distill_cls_head import DeiTDistillClsHead
from .gfl_head_distiller import GFLHeadDistiller
from .roi_head_distiller import RoIHeadDistiller
from .vlr import select_vlr

__all__ = ['AnchorHeadDistiller', 'BaseHeadDistiller', 'DeiTDistillClsHead',
           'GFLHeadDistiller', 'RoIHeadDistiller', 'select_vlr']
