from typing import Sequence

from torch import Tensor, nn
from torch.nn.utils import spectral_norm as _spectral_norm

from kdtools.registry import MODELS


@MODELS.register_module()
class ScoreMapDiscriminator(nn.Module):
    """The critic of holistic distillation (Liu et al., CVPR 2019 / TPAMI
    2020, Sec. 3.2): a fully convolutional network that scores a
    segmentation map conditioned on its image, trained as a Wasserstein
    critic (no sigmoid; the distiller adds the gradient penalty).

    Input: the class probabilities concatenated with the image resized to
    the map's size, ``(N, C + 3, H, W)``; output: one score per sample,
    ``(N, )``.

    Args:
        in_channels (int): C + 3 (inferred by the distiller).
        channels (Sequence[int]): widths of the stride-2 3x3 convolutions.
        spectral_norm (bool): spectral normalisation on every layer (an
            alternative or complement to the gradient penalty).
    """

    def __init__(self, in_channels: int,
                 channels: Sequence[int] = (32, 64, 128),
                 spectral_norm: bool = False) -> None:
        super().__init__()
        wrap = _spectral_norm if spectral_norm else (lambda m: m)
        layers = []
        c_in = in_channels
        for c in channels:
            layers += [wrap(nn.Conv2d(c_in, c, 3, stride=2, padding=1)),
                       nn.LeakyReLU(0.2)]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.score = wrap(nn.Conv2d(c_in, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.score(self.features(x)).mean(dim=(1, 2, 3))
