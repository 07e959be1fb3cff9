from torch import Tensor, nn

from kdtools.registry import MODELS
from .utils import tempered_kl


@MODELS.register_module()
class KDLoss(nn.Module):
    """Soft-target distillation of Hinton et al., "Distilling the Knowledge
    in a Neural Network" (2015):

        L_KD = T^2 * KL(softmax(z_t / T) || softmax(z_s / T))

    averaged over the batch (the ``T^2`` keeps the gradient scale independent
    of T).

    Shapes: ``preds_S``, ``preds_T``: ``(N, C)`` logits.

    Args:
        temperature (float): T.
        loss_weight (float): multiplies the loss.
    """

    requires_same_shape = True

    def __init__(self, temperature: float = 4.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature={temperature}; expected > 0')
        self.temperature = temperature
        self.loss_weight = loss_weight

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        if preds_S.shape != preds_T.shape:
            raise ValueError(f'student logits {tuple(preds_S.shape)} and '
                             f'teacher logits {tuple(preds_T.shape)} differ: '
                             'the class counts must match')
        kl = tempered_kl(preds_S, preds_T, self.temperature)
        return self.loss_weight * kl.mean()
