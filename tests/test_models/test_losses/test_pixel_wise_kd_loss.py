"""PixelWiseKDLoss (structured KD, pixel-wise term) against its formula on
small hand-made tensors."""
import math

import pytest
import torch

from kdtools.models.losses import PixelWiseKDLoss
from _helpers.losses import _kl


def test_pixel_wise_by_hand_ignore_and_sizes():
    # 2 classes, 1 x 2 pixels
    s = torch.tensor([[[[0.0, 1.0]], [[0.0, 0.0]]]])  # (1, 2, 1, 2)
    t = torch.tensor([[[[math.log(3.0), 0.0]], [[0.0, 0.0]]]])
    p_t = [(0.75, 0.25), (0.5, 0.5)]
    e = math.e
    p_s = [(0.5, 0.5), (e / (e + 1), 1 / (e + 1))]
    kl = [_kl(p_t[i], p_s[i]) for i in range(2)]
    loss = PixelWiseKDLoss(loss_weight=1.0)
    assert loss(s, t).item() == pytest.approx(sum(kl) / 2, rel=1e-6)
    # the ignore index drops pixel 1
    gt = torch.tensor([[[0, 255]]])
    assert loss(s, t, gt).item() == pytest.approx(kl[0], rel=1e-6)
    # temperature 2 with the T^2 factor
    q_t = [(math.sqrt(3) / (math.sqrt(3) + 1), 1 / (math.sqrt(3) + 1)),
           (0.5, 0.5)]
    q_s = [(0.5, 0.5), (math.exp(.5) / (math.exp(.5) + 1),
                        1 / (math.exp(.5) + 1))]
    want = 4 * sum(_kl(q_t[i], q_s[i]) for i in range(2)) / 2
    assert PixelWiseKDLoss(temperature=2.0, loss_weight=1.0)(s, t).item() \
        == pytest.approx(want, rel=1e-6)
    # a teacher map of another size is resized to the student's: a constant
    # teacher map gives the same loss at any size
    t_big = t[..., :1].expand(1, 2, 4, 4)
    s_same = s[..., :1].expand(1, 2, 2, 2)
    assert loss(s_same, t_big).item() == pytest.approx(kl[0], rel=1e-6)
    assert PixelWiseKDLoss(align='teacher', loss_weight=1.0)(
        s_same, t_big).item() == pytest.approx(kl[0], rel=1e-6)
    # and the label map is resized to the compared size (nearest)
    gt_big = torch.full((1, 8, 8), 255)
    gt_big[:, :4, :4] = 1
    out = loss(s_same, t_big, gt_big)
    assert out.item() == pytest.approx(kl[0], rel=1e-6)
    with pytest.raises(ValueError, match='class count'):
        loss(s, torch.zeros(1, 3, 1, 2))


def test_pixel_wise_zero_when_equal_and_no_teacher_gradient():
    x = torch.randn(2, 4, 3, 3)
    t = x.clone().requires_grad_()
    assert PixelWiseKDLoss()(x, t).item() == pytest.approx(0, abs=1e-6)
    s = torch.randn(2, 4, 3, 3, requires_grad=True)
    PixelWiseKDLoss()(s, t).backward()
    assert t.grad is None and s.grad is not None
