"""LocalizationDistillationLoss (LD): equal to mmdet's
KnowledgeDistillationKLDivLoss and to its formula by hand."""
import pytest
import torch
from mmdet.models.losses import KnowledgeDistillationKLDivLoss

from kdtools.models.losses import LocalizationDistillationLoss


def test_ld_loss_equals_mmdet_kd_kl_div_loss():
    torch.manual_seed(0)
    s, t = torch.randn(12, 17), torch.randn(12, 17)
    w = torch.rand(12)
    ours = LocalizationDistillationLoss(temperature=10, loss_weight=0.25)
    theirs = KnowledgeDistillationKLDivLoss(loss_weight=0.25, T=10)
    for kwargs in (dict(), dict(weight=w, avg_factor=4.0),
                   dict(reduction_override='sum')):
        torch.testing.assert_close(ours(s, t, **kwargs),
                                   theirs(s, t, **kwargs))
    # by hand: T^2 * mean over bins of p_t * (log p_t - log p_s)
    p_t = torch.softmax(t / 10, -1)
    by_hand = (p_t * (p_t.log() - torch.log_softmax(s / 10, -1))).mean(-1)
    torch.testing.assert_close(ours(s, t, reduction_override='none'),
                               0.25 * 100 * by_hand)
    with pytest.raises(ValueError, match='reg_max must match'):
        ours(s, t[:, :9])


def test_class_reduction_sum_is_crosskd_gfl_term():
    """class_reduction='sum' (CrossKD's GFL regression term: T=1, weight
    4): the bins' KL summed, not averaged; anything else is refused."""
    torch.manual_seed(1)
    s, t = torch.randn(8, 17), torch.randn(8, 17)
    p_t = torch.softmax(t, -1)
    by_hand = (p_t * (p_t.log() - torch.log_softmax(s, -1))).sum(-1)
    ours = LocalizationDistillationLoss(temperature=1, loss_weight=4.0,
                                        class_reduction='sum')
    torch.testing.assert_close(ours(s, t, reduction_override='none'),
                               4.0 * by_hand)
    with pytest.raises(ValueError, match="class_reduction='max'"):
        LocalizationDistillationLoss(class_reduction='max')
