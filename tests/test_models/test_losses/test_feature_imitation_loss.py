"""FeatureImitationLoss against hand-computed values, the mmdet loss API."""
import pytest
import torch

from kdtools.models.losses import FeatureImitationLoss


def pair():
    s = torch.tensor([[[[1., 2.], [3., 4.]]]])  # (1, 1, 2, 2)
    t = torch.tensor([[[[0., 2.], [5., 3.]]]])
    return s, t


def test_l2_mean_and_sum_by_hand():
    s, t = pair()
    # squared differences: 1, 0, 4, 1
    assert FeatureImitationLoss()(s, t).item() == pytest.approx(6 / 4)
    loss = FeatureImitationLoss(reduction='sum', loss_weight=2.0)
    assert loss(s, t).item() == pytest.approx(12.0)


def test_l1_and_smooth_l1_by_hand():
    s, t = pair()
    assert FeatureImitationLoss(dist='l1')(s, t).item() == pytest.approx(1.0)
    # smooth L1 (beta 1): 0.5, 0, 1.5, 0.5 -> mean 0.625
    assert FeatureImitationLoss(dist='smooth_l1')(s, t).item() == \
        pytest.approx(0.625)


def test_weight_avg_factor_and_reduction_override():
    s, t = pair()
    w = torch.tensor([[[[1., 1.], [0., 0.]]]])
    loss = FeatureImitationLoss()
    assert loss(s, t, weight=w, avg_factor=2).item() == pytest.approx(0.5)
    out = loss(s, t, reduction_override='none')
    assert torch.equal(out, torch.tensor([[[[1., 0.], [4., 1.]]]]))


def test_channel_normalised_variant():
    s = torch.tensor([[[[3.]], [[4.]]]])  # (1, 2, 1, 1): unit vector (.6,.8)
    t = torch.tensor([[[[6.]], [[8.]]]])  # same direction, twice as long
    assert FeatureImitationLoss(normalize='channel')(s, t).item() == \
        pytest.approx(0.0, abs=1e-12)
    assert FeatureImitationLoss()(s, t).item() == pytest.approx(
        (9 + 16) / 2)


def test_no_gradient_to_teacher_and_shape_check():
    s, t = pair()
    s.requires_grad_(True)
    t.requires_grad_(True)
    FeatureImitationLoss()(s, t).backward()
    # d/ds mean((s-t)^2) = 2 (s - t) / 4
    assert torch.allclose(s.grad, (s - t).detach() / 2)
    assert t.grad is None
    with pytest.raises(ValueError, match='adapter'):
        FeatureImitationLoss()(torch.zeros(1, 2, 2, 2), torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match='dist'):
        FeatureImitationLoss(dist='l3')
