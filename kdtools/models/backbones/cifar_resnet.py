from mmpretrain.models.backbones import ResNet_CIFAR
from mmpretrain.models.backbones.resnet import BasicBlock

from kdtools.registry import MODELS


@MODELS.register_module()
class CifarResNet(ResNet_CIFAR):
    """The CIFAR ResNets of He et al., "Deep Residual Learning for Image
    Recognition" (CVPR 2016, section 4.2): a 3x3 stem and three stages of
    ``n`` basic blocks with 16, 32 and 64 channels, depth ``6n + 2`` (14, 20,
    32, 44, 56, 110, ...), which mmpretrain's ``ResNet_CIFAR`` (depths 18 to
    152, four stages) does not offer. FSP's paper (Yim et al., CVPR 2017)
    distils ResNet-32 into ResNet-14 with them. ResNet-14 is also
    ``mmpretrain.ResNet_CIFAR(depth=18, num_stages=3, stem_channels=16,
    base_channels=16)``: use that for a student that must export to plain
    mmpretrain.

    Shapes: ``(N, 3, 32, 32)`` -> stage outputs ``(N, 16, 32, 32)``,
    ``(N, 32, 16, 16)``, ``(N, 64, 8, 8)`` (``out_indices`` picks).

    Args:
        depth (int): ``6n + 2``.
    """

    arch_settings = {6 * n + 2: (BasicBlock, (n, n, n)) for n in range(1, 19)}

    def __init__(self, depth: int = 32, stem_channels: int = 16,
                 base_channels: int = 16, out_indices=(2, ), **kwargs):
        if depth not in self.arch_settings:
            raise ValueError(f'CifarResNet depth={depth}; expected 6n + 2 '
                             f'(e.g. 14, 20, 32, 44, 56, 110)')
        kwargs.pop('num_stages', None)
        kwargs.setdefault('strides', (1, 2, 2))
        kwargs.setdefault('dilations', (1, 1, 1))
        super().__init__(depth, stem_channels=stem_channels,
                         base_channels=base_channels, num_stages=3,
                         out_indices=out_indices, **kwargs)
