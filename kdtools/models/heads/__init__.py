from .anchor_head_distiller import AnchorHeadDistiller
from .base_head_distiller import BaseHeadDistiller
from .crosskd_atss_head_distiller import CrossKDATSSHeadDistiller
from .crosskd_fcos_head_distiller import CrossKDFCOSHeadDistiller
from .crosskd_gfl_head_distiller import CrossKDGFLHeadDistiller
from .crosskd_head_distiller import CrossKDHeadDistiller, align_scale
from .crosskd_retina_head_distiller import CrossKDRetinaHeadDistiller
from .deit_distill_cls_head import DeiTDistillClsHead
from .gfl_head_distiller import GFLHeadDistiller
from .roi_head_distiller import RoIHeadDistiller
from .vlr import select_vlr

__all__ = ['AnchorHeadDistiller', 'align_scale', 'BaseHeadDistiller',
           'CrossKDATSSHeadDistiller', 'CrossKDFCOSHeadDistiller',
           'CrossKDGFLHeadDistiller', 'CrossKDHeadDistiller',
           'CrossKDRetinaHeadDistiller', 'DeiTDistillClsHead',
           'GFLHeadDistiller', 'RoIHeadDistiller', 'select_vlr']
