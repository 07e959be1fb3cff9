from .anchor_head_distiller import AnchorHeadDistiller
from .base_head_distiller import BaseHeadDistiller
from .gfl_head_distiller import GFLHeadDistiller
from .roi_head_distiller import RoIHeadDistiller
from .vlr import select_vlr

__all__ = ['AnchorHeadDistiller', 'BaseHeadDistiller', 'GFLHeadDistiller',
           'RoIHeadDistiller', 'select_vlr']
