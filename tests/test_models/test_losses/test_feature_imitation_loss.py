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


def test_weighted_soft_ce_by_hand():
    import math

    from kdtools.models.losses import WeightedSoftCELoss

    # 2 foreground classes + background (last), one sample
    s = torch.tensor([[1.0, 0.0, 0.0]])
    t = torch.tensor([[0.0, 0.0, math.log(2.0)]])  # P_t = (.25, .25, .5)
    p_s = torch.softmax(s, dim=-1)[0]
    soft = -(0.25 * math.log(p_s[0]) + 0.25 * math.log(p_s[1]) +
             1.5 * 0.5 * math.log(p_s[2]))
    loss = WeightedSoftCELoss(mu=0.0, bg_weight=1.5)
    assert loss(s, t).item() == pytest.approx(soft, rel=1e-6)
    # mu mixes in the hard term CE(P_s, y)
    hard = -math.log(p_s[0])
    mixed = WeightedSoftCELoss(mu=0.25)(s, t, label=torch.tensor([0]))
    assert mixed.item() == pytest.approx(0.25 * hard + 0.75 * soft, rel=1e-6)
    # temperature: P = softmax(Z / T); T^2 only when asked
    q_s = torch.softmax(s / 2, dim=-1)[0]
    q_t = torch.softmax(t / 2, dim=-1)[0]
    soft_t = -sum(w * q_t[c] * math.log(q_s[c])
                  for c, w in enumerate((1.0, 1.0, 1.5)))
    assert WeightedSoftCELoss(mu=0.0, temperature=2.0)(s, t).item() == \
        pytest.approx(float(soft_t), rel=1e-6)
    assert WeightedSoftCELoss(mu=0.0, temperature=2.0, scale_by_t2=True)(
        s, t).item() == pytest.approx(4 * float(soft_t), rel=1e-6)
    with pytest.raises(ValueError, match='class counts'):
        loss(torch.zeros(1, 3), torch.zeros(1, 4))


def test_bounded_regression_by_hand():
    from kdtools.models.losses import TeacherBoundedRegressionLoss
    y = torch.zeros(2, 4)
    # box 0: student worse than teacher -> L2 term; box 1: student better
    # than the teacher by more than the margin -> exactly 0, no gradient
    s = torch.tensor([[1., 1., 0., 0.], [0.1, 0., 0., 0.]],
                     requires_grad=True)
    t = torch.tensor([[0.5, 0., 0., 0.], [1., 1., 0., 0.]])
    loss = TeacherBoundedRegressionLoss(margin=0.5, reduction='none',
                                        loss_weight=1.0)
    out = loss(s, t, y)
    assert out.tolist() == pytest.approx([2.0, 0.0])
    out.sum().backward()
    assert torch.equal(s.grad[1], torch.zeros(4))
    assert torch.allclose(s.grad[0], torch.tensor([2., 2., 0., 0.]))
    # within the margin the student is still pushed: 0.01 + 0.5 > 2 is
    # false, but with margin 3 it is true
    wide = TeacherBoundedRegressionLoss(margin=3.0, reduction='none',
                                        loss_weight=1.0)
    assert wide(s, t, y)[1].item() == pytest.approx(0.01)
    # mmdet bbox_weights (N, 4) and avg_factor
    w = torch.tensor([[1., 1., 1., 1.], [0., 0., 0., 0.]])
    nu = TeacherBoundedRegressionLoss(margin=0.5, loss_weight=0.5)
    assert nu(s, t, y, weight=w, avg_factor=1.0).item() == \
        pytest.approx(0.5 * 2.0)


def test_weighted_soft_ce_sigmoid_form_by_hand():
    """Dense sigmoid heads: per-class binary CE with the teacher's
    sigmoid, the background weight on locations labelled background
    (label == C), optional |p_t - p_s|^gamma modulation."""
    import math

    from kdtools.models.losses import WeightedSoftCELoss

    s = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    t = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]])  # p_t .75 .5 / .5 .5
    label = torch.tensor([1, 2])  # location 1 is background (C = 2)

    def bce(p, q):  # target p, prediction q
        return -(p * math.log(q) + (1 - p) * math.log(1 - q))

    sig = torch.sigmoid(s)
    loc0 = bce(.75, sig[0, 0]) + bce(.5, sig[0, 1])
    loc1 = bce(.5, sig[1, 0]) + bce(.5, sig[1, 1])
    loss = WeightedSoftCELoss(use_sigmoid=True, mu=0.5, bg_weight=1.5,
                              reduction='none')
    out = loss(s, t, label=label)
    assert out.tolist() == pytest.approx(
        [0.5 * float(loc0), 0.5 * 1.5 * float(loc1)], rel=1e-6)
    focal = WeightedSoftCELoss(use_sigmoid=True, mu=0.0, gamma=2.0,
                               reduction='none')(s, t, label=label)
    loc0_f = bce(.75, sig[0, 0]) * (.75 - sig[0, 0]) ** 2 + \
        bce(.5, sig[0, 1]) * (.5 - sig[0, 1]) ** 2
    assert focal[0].item() == pytest.approx(float(loc0_f), rel=1e-5)
    # the gradient pushes p_s towards p_t: zero where they agree
    x = torch.tensor([[math.log(3.0), 0.0]], requires_grad=True)
    WeightedSoftCELoss(use_sigmoid=True, mu=0.0)(x, t[:1]).backward()
    assert torch.allclose(x.grad, torch.zeros(1, 2), atol=1e-7)
