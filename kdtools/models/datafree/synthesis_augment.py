"""Differentiable batch augmentation of synthetic images."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kdtools.registry import MODELS


@MODELS.register_module()
class SynthesisAugment(nn.Module):
    """The augmentation ``A`` of Fast-Datafree (Fang et al., AAAI 2022;
    kornia ``RandomCrop(size, padding)`` + ``RandomHorizontalFlip``;
    DATAFREE.md 5.2), applied before the teacher (and student) see a
    synthetic batch, during synthesis and on buffer samples in the
    distillation step (``RandomCrop(32, padding=4)`` + flip, as Fast's
    CIFAR training transform). Each sample gets its own crop offset and
    flip (drawn from the global torch generator, so resumed runs repeat
    them); zero padding; differentiable with respect to the images.
    Normalisation is not part of it: each model applies its own data
    preprocessor's mean and std.

    With ``scale=(lo, hi)`` the crop is a square ``RandomResizedCrop``
    instead (the segmentation KD view of DATAFREE.md 7.3): each sample's
    crop covers a fraction ``s ~ U(lo, hi)`` of the image area at a random
    position and is resized back (bilinear, ``grid_sample``); ``padding``
    is then unused.

    Shapes: ``x (B, C, H, W)`` -> ``(B, C, H, W)`` (the crop keeps the
    size).

    Args:
        padding (int): zero padding before the random crop (4).
        flip_prob (float): horizontal flip probability (0.5).
        scale (tuple, optional): area range of a resized crop.
    """

    def __init__(self, padding: int = 4, flip_prob: float = 0.5,
                 scale=None) -> None:
        super().__init__()
        if padding < 0 or not 0 <= flip_prob <= 1:
            raise ValueError(f'SynthesisAugment: padding={padding}, '
                             f'flip_prob={flip_prob}; expected padding >= 0 '
                             'and 0 <= flip_prob <= 1')
        if scale is not None and not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f'SynthesisAugment: scale={scale}; expected '
                             '0 < lo <= hi <= 1')
        self.padding, self.flip_prob = int(padding), float(flip_prob)
        self.scale = None if scale is None else tuple(map(float, scale))

    def resized_crop(self, x: Tensor) -> Tensor:
        b = x.shape[0]
        lo, hi = self.scale
        side = (lo + (hi - lo) * torch.rand(b)).sqrt()
        centre = (torch.rand(b, 2) * 2 - 1) * (1 - side[:, None])
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = side
        theta[:, :, 2] = centre
        grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode='bilinear', padding_mode='border',
                             align_corners=False)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        p = self.padding
        if self.scale is not None:
            x = self.resized_crop(x)
        elif p:
            oy = torch.randint(0, 2 * p + 1, (b, ))
            ox = torch.randint(0, 2 * p + 1, (b, ))
            padded = F.pad(x, (p, p, p, p))
            rows = (oy[:, None] + torch.arange(h)[None]).to(x.device)
            cols = (ox[:, None] + torch.arange(w)[None]).to(x.device)
            x = padded.gather(2, rows[:, None, :, None].expand(
                b, c, h, w + 2 * p))
            x = x.gather(3, cols[:, None, None, :].expand(b, c, h, w))
        if self.flip_prob:
            flip = (torch.rand(b) < self.flip_prob).to(x.device)
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        return x
