from torch import Tensor, nn

from kdtools.registry import MODELS
from .utils import tempered_kl


@MODELS.register_module()
class ChannelWiseDivergenceLoss(nn.Module):
    """Channel-wise distillation (Shu et al., ICCV 2021, Eq. 3-4): each
    channel's activation map becomes a distribution over the spatial
    positions,

        phi(y_c)_i = exp(y_{c,i} / T) / sum_j exp(y_{c,j} / T),
        L_cwd = T^2 / C * sum_c sum_i phi(y^T_c)_i log(phi(y^T_c)_i / phi(y^S_c)_i)

    averaged over the batch. Usually on the score maps (logits) of a
    segmentor; on features, put an adapter on the student side.

    Shapes: ``preds_S``, ``preds_T``: ``(N, C, H, W)``.

    Args:
        temperature (float): T (paper: 4 for segmentation).
        loss_weight (float): multiplies the loss (paper: 3).
    """

    requires_same_shape = True

    def __init__(self, temperature: float = 4.0,
                 loss_weight: float = 3.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature={temperature}; expected > 0')
        self.temperature = temperature
        self.loss_weight = loss_weight

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        if preds_S.shape != preds_T.shape:
            raise ValueError(f'student {tuple(preds_S.shape)} and teacher '
                             f'{tuple(preds_T.shape)} maps differ; add an '
                             'adapter or align them')
        # one spatial distribution per (sample, channel), averaged over both
        kl = tempered_kl(preds_S.flatten(2), preds_T.flatten(2),
                         self.temperature)
        return self.loss_weight * kl.mean()
