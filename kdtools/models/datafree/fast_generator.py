"""Fast-Datafree's generator (latent z -> image in [0, 1])."""
import copy

from torch import Tensor, nn

from kdtools.registry import MODELS


@MODELS.register_module()
class FastGenerator(nn.Module):
    """The generator of Fast-Datafree (Fang et al., "Up to 100x Faster
    Data-free Knowledge Distillation", AAAI 2022,
    ``datafree/models/generator.py::Generator``; DATAFREE.md 5.1)::

        Linear(nz -> ngf*2 * s * s) -> view (ngf*2, s, s)      s = img_size//4
        -> BN -> Upsample x2
        -> Conv3x3(ngf*2 -> ngf*2) -> BN -> LeakyReLU(0.2) -> Upsample x2
        -> Conv3x3(ngf*2 -> ngf) -> BN -> LeakyReLU(0.2)
        -> Conv3x3(ngf -> nc) -> Sigmoid

    Shapes: ``z (B, nz)`` -> images ``(B, nc, img_size, img_size)`` in
    [0, 1] (raw pixels / 255: each model normalises them with its own data
    preprocessor's mean and std). :meth:`clone` is the fresh copy Fast's
    meta-learning optimises in the inner loop (train mode: BN uses batch
    statistics).

    Args:
        nz (int): latent size (256).
        ngf (int): base width (64).
        img_size (int): output side, a multiple of 4 (32 for CIFAR).
        nc (int): image channels.
    """

    def __init__(self, nz: int = 256, ngf: int = 64, img_size: int = 32,
                 nc: int = 3) -> None:
        super().__init__()
        if img_size % 4:
            raise ValueError(f'img_size={img_size}; expected a multiple of 4')
        self.nz, self.ngf, self.img_size, self.nc = nz, ngf, img_size, nc
        self.init_size = img_size // 4
        self.l1 = nn.Sequential(nn.Linear(nz, ngf * 2 * self.init_size ** 2))
        self.conv_blocks = nn.Sequential(
            nn.BatchNorm2d(ngf * 2),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(ngf * 2, ngf * 2, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(ngf * 2, ngf, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.LeakyReLU(0.2),
            nn.Conv2d(ngf, nc, 3, stride=1, padding=1),
            nn.Sigmoid(),
        )

    @property
    def latent_shape(self) -> tuple:
        """The shape of one latent code ``z``."""
        return (self.nz, )

    @property
    def image_shape(self) -> tuple:
        return (self.nc, self.img_size, self.img_size)

    def forward(self, z: Tensor) -> Tensor:
        out = self.l1(z.flatten(1))
        out = out.view(out.shape[0], -1, self.init_size, self.init_size)
        return self.conv_blocks(out)

    def clone(self) -> 'FastGenerator':
        """A copy with the same weights and buffers, in train mode."""
        return copy.deepcopy(self).train()
