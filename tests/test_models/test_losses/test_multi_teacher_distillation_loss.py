"""MultiTeacherDistillationLoss (DeiT-style soft and hard distillation from
n teachers) against its formula on hand-made logits."""
import math

import pytest
import torch

from kdtools.models.losses import MultiTeacherDistillationLoss
from _helpers.losses import S, T1, T2, Y, _kl, _softmax


@pytest.mark.parametrize('n', [1, 2])
def test_soft_and_hard_multi_teacher_by_hand(n):
    teachers = [T1, T2][:n]
    ce = -math.log(_softmax([1, 0, 0])[0])
    a, tau = 0.4, 2.0
    kl = sum(_kl(_softmax([v / tau for v in t[0].tolist()]),
                 _softmax([v / tau for v in S[0].tolist()]))
             for t in teachers)
    soft = MultiTeacherDistillationLoss('soft', alpha=a, tau=tau)
    assert soft(S, teachers, Y).item() == pytest.approx(
        (1 - a) * ce + a * tau * tau / n * kl, rel=1e-6)
    # hard: CE with each teacher's argmax, no tau and no tau^2
    p_s = _softmax([1, 0, 0])
    hard_ce = sum(-math.log(p_s[int(t.argmax())]) for t in teachers)
    for tau in (1.0, 3.0):
        hard = MultiTeacherDistillationLoss('hard', alpha=a, tau=tau)
        assert hard(S, teachers, Y).item() == pytest.approx(
            (1 - a) * ce + a / n * hard_ce, rel=1e-6)


def test_distillation_token_head_gets_the_distillation_gradient():
    cls = S.clone().requires_grad_()
    dist = torch.tensor([[0.0, 1.0, 0.0]], requires_grad=True)
    teacher = T1.clone().requires_grad_()
    for mode in ('soft', 'hard'):
        cls.grad = dist.grad = None
        loss = MultiTeacherDistillationLoss(mode, alpha=1.0)
        loss(cls, [teacher], Y, dist_score=dist).backward()
        # alpha = 1: only the distillation term, only on the dist head
        assert cls.grad is None or not cls.grad.abs().sum()
        assert dist.grad.abs().sum() > 0
        cls.grad = dist.grad = None
        MultiTeacherDistillationLoss(mode, alpha=0.0)(
            cls, [teacher], Y, dist_score=dist).backward()
        assert cls.grad.abs().sum() > 0
        assert dist.grad is None or not dist.grad.abs().sum()
    assert teacher.grad is None
    with pytest.raises(ValueError, match='teacher 1 logits'):
        MultiTeacherDistillationLoss()(S, [T1, torch.zeros(1, 5)], Y)
