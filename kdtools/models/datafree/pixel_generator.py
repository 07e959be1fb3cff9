"""DeepInversion-style inversion: the images themselves are the latent."""
import copy

import torch
from torch import Tensor, nn

from kdtools.registry import MODELS


@MODELS.register_module()
class PixelGenerator(nn.Module):
    """No generator network: DeepInversion (Yin et al., "Dreaming to
    Distill", CVPR 2020; Fast-Datafree's ``DeepInvSyntheizer``) optimises
    the pixels of each synthesis batch directly for many steps, starting
    from noise, with nothing learnt across batches. Here the latent ``z``
    (drawn N(0, I) by the synthesis round, optimised with ``lr_z``) is the
    pre-sigmoid image: ``x = sigmoid(z)``, so images stay in [0, 1] like
    Fast's generator output instead of being clamped after each step as
    DeepInversion does (our choice: the same image range and augmentation
    for every method, so the comparison is like for like).

    Shapes: ``z (B, nc, img_size, img_size)`` -> ``x`` of the same shape.
    It has no parameters: configs using it need no ``generator`` optimizer
    and set ``synthesis.meta=False``.

    Args:
        img_size (int): image side.
        nc (int): image channels.
    """

    def __init__(self, img_size: int = 32, nc: int = 3) -> None:
        super().__init__()
        self.img_size, self.nc = img_size, nc

    @property
    def latent_shape(self) -> tuple:
        return (self.nc, self.img_size, self.img_size)

    @property
    def image_shape(self) -> tuple:
        return self.latent_shape

    def forward(self, z: Tensor) -> Tensor:
        return torch.sigmoid(z)

    def clone(self) -> 'PixelGenerator':
        return copy.deepcopy(self)
