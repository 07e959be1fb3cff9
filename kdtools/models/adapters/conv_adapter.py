from typing import Optional

import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from torch import Tensor, nn

from kdtools.registry import MODELS


@MODELS.register_module()
class ConvAdapter(nn.Module):
    """1x1 convolution that maps student features to the teacher's channels
    (Chen et al., NeurIPS 2017, "Learning Efficient Object Detection Models
    with Knowledge Distillation", Sec. 3.3; Romero et al., ICLR 2015,
    FitNets' regressor), optionally followed by a norm and an activation,
    then resized to the teacher's spatial size when the two differ.

    Shapes: ``(N, C_s, H_s, W_s) -> (N, C_t, H_t, W_t)``.

    Args:
        in_channels (int): C_s, inferred by the distiller from the recorded
            student feature.
        out_channels (int): C_t, inferred from the teacher feature.
        norm_cfg (dict, optional): e.g. ``dict(type='BN')``.
        act_cfg (dict, optional): e.g. ``dict(type='ReLU')``.
        align (str): how spatial sizes are aligned when they differ:
            ``'bilinear'`` (default), ``'nearest'``, or ``'none'`` (differing
            sizes are an error).
    """

    def __init__(self, in_channels: int, out_channels: int,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None,
                 align: str = 'bilinear') -> None:
        super().__init__()
        assert align in ('bilinear', 'nearest', 'none'), align
        self.align = align
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1,
                              bias=norm_cfg is None)
        self.norm = build_norm_layer(norm_cfg, out_channels)[1] \
            if norm_cfg else None
        self.act = build_activation_layer(act_cfg) if act_cfg else None
        nn.init.kaiming_normal_(self.conv.weight, mode='fan_out',
                                nonlinearity='relu')
        if self.conv.bias is not None:
            nn.init.zeros_(self.conv.bias)

    def forward(self, x: Tensor, target: Optional[Tensor] = None) -> Tensor:
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.act is not None:
            x = self.act(x)
        if target is not None and x.shape[-2:] != target.shape[-2:]:
            if self.align == 'none':
                raise RuntimeError(
                    f'adapter output {tuple(x.shape)} and teacher feature '
                    f'{tuple(target.shape)} differ in size and align="none"')
            kwargs = dict(align_corners=False) \
                if self.align == 'bilinear' else {}
            x = F.interpolate(x, size=target.shape[-2:], mode=self.align,
                              **kwargs)
        return x
