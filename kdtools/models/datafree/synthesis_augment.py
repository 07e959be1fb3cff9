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

    Shapes: ``x (B, C, H, W)`` -> ``(B, C, H, W)`` (the crop keeps the
    size).

    Args:
        padding (int): zero padding before the random crop (4).
        flip_prob (float): horizontal flip probability (0.5).
    """

    def __init__(self, padding: int = 4, flip_prob: float = 0.5) -> None:
        super().__init__()
        if padding < 0 or not 0 <= flip_prob <= 1:
            raise ValueError(f'SynthesisAugment: padding={padding}, '
                             f'flip_prob={flip_prob}; expected padding >= 0 '
                             'and 0 <= flip_prob <= 1')
        self.padding, self.flip_prob = int(padding), float(flip_prob)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        p = self.padding
        if p:
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
