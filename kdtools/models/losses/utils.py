import torch.nn.functional as F
from torch import Tensor


def tempered_kl(preds_S: Tensor, preds_T: Tensor, temperature: float,
                dim: int = -1) -> Tensor:
    """``T^2 * KL(softmax(z_t / T) || softmax(z_s / T))`` along ``dim``
    (summed over it, not reduced otherwise); the teacher is detached. The
    knowledge-distillation term shared by the KD, LD, pixel-wise, CWD and
    DeiT losses."""
    t = temperature
    log_s = F.log_softmax(preds_S / t, dim=dim)
    log_t = F.log_softmax(preds_T.detach() / t, dim=dim)
    return (log_t.exp() * (log_t - log_s)).sum(dim=dim) * (t * t)
