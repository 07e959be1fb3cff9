from .conv_adapter import ConvAdapter
from .score_map_discriminator import ScoreMapDiscriminator

__all__ = ['ConvAdapter', 'ScoreMapDiscriminator']
