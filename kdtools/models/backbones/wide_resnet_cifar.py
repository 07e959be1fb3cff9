from typing import Sequence

from mmcv.cnn import build_norm_layer
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from torch import Tensor, nn

from kdtools.registry import MODELS


class _PreActBlock(nn.Module):
    """BN-ReLU-conv3x3-BN-ReLU-(dropout)-conv3x3 plus the shortcut: the
    identity when the width and resolution stay, else a 1x1 conv (stride
    ``stride``) of the pre-activated input (as CRD's and Fast-Datafree's
    ``wresnet.py``: the first block of a stage shares its BN-ReLU)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 drop_rate: float, norm_cfg: dict):
        super().__init__()
        self.bn1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1,
                               bias=False)
        self.bn2 = build_norm_layer(norm_cfg, out_channels)[1]
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1,
                               bias=False)
        self.drop_rate = drop_rate
        self.equal_in_out = in_channels == out_channels and stride == 1
        self.shortcut = None if self.equal_in_out else nn.Conv2d(
            in_channels, out_channels, 1, stride, 0, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        act = self.relu1(self.bn1(x))
        out = self.relu2(self.bn2(self.conv1(act)))
        if self.drop_rate > 0:
            out = nn.functional.dropout(out, p=self.drop_rate,
                                        training=self.training)
        out = self.conv2(out)
        return out + (x if self.equal_in_out else self.shortcut(act))


@MODELS.register_module()
class WideResNetCifar(BaseBackbone):
    """The CIFAR Wide ResNets WRN-d-k of Zagoruyko & Komodakis, "Wide
    Residual Networks" (BMVC 2016), as CRD (Tian et al., ICLR 2020) and
    Fast-Datafree (Fang et al., AAAI 2022) use them (WRN-40-2 teacher;
    WRN-16-1, WRN-40-1, WRN-16-2 students): a 3x3 conv stem with 16
    channels, then three stages of ``n`` pre-activation basic blocks with
    ``16k``, ``32k`` and ``64k`` channels (strides 1, 2, 2), depth
    ``d = 6n + 4``, no dropout by default; the last stage's output goes
    through a final BN-ReLU (what the classifier pools).

    Shapes: ``(N, 3, 32, 32)`` -> stage outputs ``(N, 16k, 32, 32)``,
    ``(N, 32k, 16, 16)``, ``(N, 64k, 8, 8)`` (``out_indices`` picks; the
    first two are the raw residual sums, the last is after the final
    BN-ReLU, as CRD's feature list).

    Args:
        depth (int): ``6n + 4`` (10, 16, 22, 28, 40, ...).
        widen_factor (int): ``k``.
        drop_rate (float): dropout between a block's two convs.
        out_indices (Sequence[int]): stages to return (0, 1, 2).
        norm_cfg (dict): the normalisation layers.
    """

    def __init__(self, depth: int = 40, widen_factor: int = 2,
                 drop_rate: float = 0.0,
                 out_indices: Sequence[int] = (2, ),
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg=(dict(type='Kaiming', layer='Conv2d',
                                mode='fan_out', nonlinearity='relu'),
                           dict(type='Constant', val=1,
                                layer=['_BatchNorm', 'GroupNorm']))):
        super().__init__(init_cfg=list(init_cfg) if init_cfg else None)
        if not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
            raise ValueError(f'WideResNetCifar depth={depth}; expected '
                             '6n + 4 with n >= 1 (e.g. 10, 16, 22, 28, 40)')
        if not isinstance(widen_factor, int) or widen_factor < 1:
            raise ValueError(f'WideResNetCifar widen_factor={widen_factor}; '
                             'expected a positive integer')
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        out_indices = tuple(i + 3 if i < 0 else i for i in out_indices)
        if not out_indices or any(i not in (0, 1, 2) for i in out_indices):
            raise ValueError(f'WideResNetCifar out_indices={out_indices}; '
                             'expected stage indices in 0, 1, 2')
        self.depth, self.widen_factor = depth, widen_factor
        self.out_indices = out_indices
        n = (depth - 4) // 6
        widths = [16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        in_channels = 16
        for i, (width, stride) in enumerate(zip(widths, (1, 2, 2))):
            blocks = []
            for j in range(n):
                blocks.append(_PreActBlock(in_channels, width,
                                           stride if j == 0 else 1,
                                           drop_rate, norm_cfg))
                in_channels = width
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
        self.final_norm = build_norm_layer(norm_cfg, in_channels)[1]
        self.final_relu = nn.ReLU(inplace=True)
        self.out_channels = widths

    def forward(self, x: Tensor) -> tuple:
        x = self.conv1(x)
        outs = []
        for i in range(3):
            x = getattr(self, f'layer{i + 1}')(x)
            if i == 2:
                x = self.final_relu(self.final_norm(x))
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

