"""WeightedSoftCELoss (Chen et al. 2017, classification KD) against
hand-computed values: softmax and dense sigmoid forms."""
import pytest
import torch


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
