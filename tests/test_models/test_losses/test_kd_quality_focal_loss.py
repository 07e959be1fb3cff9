"""KDQualityFocalLoss (CrossKD's classification term) against values
computed by hand on plain Python numbers, and the mmdet loss API."""
import math

import pytest
import torch

from kdtools.models.losses import KDQualityFocalLoss


def _sig(z):
    return 1 / (1 + math.exp(-z))


def _term(zs, zt, beta=1.0):
    """|p_s - p_t|^beta * BCE(p_s, p_t) for one class."""
    ps, pt = _sig(zs), _sig(zt)
    bce = -(pt * math.log(ps) + (1 - pt) * math.log(1 - ps))
    return abs(ps - pt) ** beta * bce


S = torch.tensor([[0.0, math.log(3)], [2.0, -1.0]])
T = torch.tensor([[math.log(3), 0.0], [-0.5, -1.0]])


def test_values_by_hand():
    # row 0: p_s = .5 vs p_t = .75: .25 * ln 2; p_s = .75 vs p_t = .5
    assert _term(0.0, math.log(3)) == pytest.approx(0.25 * math.log(2))
    rows = [[_term(a, b) for a, b in zip(r_s, r_t)]
            for r_s, r_t in zip(S.tolist(), T.tolist())]
    total = sum(map(sum, rows))
    assert rows[1][1] == 0.0  # equal logits cost nothing
    loss = KDQualityFocalLoss()
    assert loss(S, T, reduction_override='sum').item() == \
        pytest.approx(total, rel=1e-6)
    # per location weights (the head's label weights), avg_factor
    w = torch.tensor([1.0, 0.0])
    assert KDQualityFocalLoss(loss_weight=2.0)(
        S, T, weight=w, avg_factor=4.0).item() == \
        pytest.approx(2 * sum(rows[0]) / 4, rel=1e-6)
    assert loss(S, T).item() == pytest.approx(total / 4, rel=1e-6)


def test_beta_and_detached_teacher():
    s, t = S.clone().requires_grad_(True), T.clone().requires_grad_(True)
    out = KDQualityFocalLoss(beta=2.0)(s, t, reduction_override='sum')
    assert out.item() == pytest.approx(sum(
        _term(a, b, 2.0) for r_s, r_t in zip(S.tolist(), T.tolist())
        for a, b in zip(r_s, r_t)), rel=1e-6)
    out.backward()
    assert s.grad is not None and t.grad is None


def test_class_count_mismatch_and_softmax_refused():
    with pytest.raises(ValueError, match=r'\(2, 3\).*\(2, 4\).*class '
                       r'counts must match'):
        KDQualityFocalLoss()(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match='use_sigmoid=False'):
        KDQualityFocalLoss(use_sigmoid=False)
