"""ChannelWiseDivergenceLoss (CWD) against its formula on small hand-made
tensors."""
import math

import pytest
import torch

from kdtools.models.losses import ChannelWiseDivergenceLoss
from _helpers.losses import _kl


def test_channel_wise_divergence_by_hand():
    # one channel over 2 positions, another over 2 positions
    s = torch.tensor([[[[0.0, 0.0]], [[1.0, 0.0]]]])
    t = torch.tensor([[[[math.log(3.0), 0.0]], [[1.0, 0.0]]]])
    kl0 = _kl((0.75, 0.25), (0.5, 0.5))
    kl1 = 0.0
    loss = ChannelWiseDivergenceLoss(temperature=1.0, loss_weight=1.0)
    assert loss(s, t).item() == pytest.approx((kl0 + kl1) / 2, rel=1e-6)
    # T^2 and softmax(z / T) over positions
    q_t = (math.sqrt(3) / (math.sqrt(3) + 1), 1 / (math.sqrt(3) + 1))
    want = 4 * _kl(q_t, (0.5, 0.5)) / 2
    assert ChannelWiseDivergenceLoss(temperature=2.0, loss_weight=1.0)(
        s, t).item() == pytest.approx(want, rel=1e-6)
    with pytest.raises(ValueError, match='adapter'):
        loss(s, t[:, :1])
