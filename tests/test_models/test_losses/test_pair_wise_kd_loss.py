"""PairWiseKDLoss (structured KD, pair-wise term) against its formula on
small hand-made tensors."""
import math

import pytest
import torch

from kdtools.models.losses import PairWiseKDLoss


def test_pair_wise_by_hand():
    # node_size 1: every pixel a node; 1 x 2 pixels, 2 channels
    s = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]])  # nodes (1,0), (0,1)
    t = torch.tensor([[[[1.0, 1.0]], [[0.0, 1.0]]]])  # nodes (1,0), (1,1)
    # a^s = [[1, 0], [0, 1]]; a^t = [[1, c], [c, 1]], c = 1/sqrt(2)
    c = 1 / math.sqrt(2)
    want = (2 * c * c) / 2 ** 2
    loss = PairWiseKDLoss(node_size=1, loss_weight=1.0)
    assert loss(s, t).item() == pytest.approx(want, rel=1e-6)
    # node_size 2 max-pools 2 x 2 patches into one node
    s4 = torch.zeros(1, 2, 2, 4)
    s4[0, 0, :, :2] = torch.tensor([[1., .2], [.3, .1]])   # node (1, 0)
    s4[0, 1, :, 2:] = torch.tensor([[.5, 1.], [.2, .4]])   # node (0, 1)
    t4 = torch.zeros(1, 2, 2, 4)
    t4[0, 0] = 1.0
    t4[0, 1, :, 2:] = 1.0
    assert PairWiseKDLoss(node_size=2, loss_weight=1.0)(s4, t4).item() == \
        pytest.approx(want, rel=1e-6)


def test_pair_wise_zero_up_to_positive_scale_per_node():
    torch.manual_seed(0)
    t = torch.randn(2, 8, 6, 6)
    scale = torch.rand(2, 1, 6, 6) + 0.1  # a positive factor per node
    loss = PairWiseKDLoss(node_size=1)
    assert loss(t * scale, t).item() == pytest.approx(0, abs=1e-10)
    # teacher and student channel counts may differ; graphs still compare
    s = torch.randn(2, 3, 6, 6)
    assert loss(s, t).item() > 0
    with pytest.raises(ValueError, match='nodes'):
        PairWiseKDLoss(node_size=1, align=False)(s, t[..., :4, :4])
