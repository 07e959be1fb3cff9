"""The inversion and distillation terms of data-free KD equal their
formulas (DATAFREE.md 2.4-2.7) on hand-made tensors: the BN-statistics
prior over two BN layers (with and without Fast's momentum), the task term
with phi, the adversarial term and the weighted KD term."""
import math

import pytest
import torch
from torch import nn

from kdtools.models.datafree import (AdversarialDisagreementLoss,
                                     BNStatisticsPrior, ModulatedTaskLoss,
                                     WeightedKDLoss)
from kdtools.utils import ConfigError


class TwoBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(2)
        self.conv = nn.Conv2d(2, 3, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(3)

    def forward(self, x):
        return self.bn2(self.conv(self.bn1(x)))


def _teacher():
    torch.manual_seed(0)
    t = TwoBN()
    with torch.no_grad():
        t.bn1.running_mean.copy_(torch.tensor([0.5, -1.0]))
        t.bn1.running_var.copy_(torch.tensor([2.0, 0.5]))
        t.bn2.running_mean.copy_(torch.tensor([0.1, 0.2, 0.3]))
        t.bn2.running_var.copy_(torch.tensor([1.5, 1.0, 3.0]))
    return t.eval()


def _by_hand(h, bn, mmt=None, m=0.0):
    mean = h.mean(dim=(0, 2, 3))
    var = ((h - mean[None, :, None, None]) ** 2).mean(dim=(0, 2, 3))
    if mmt is not None:
        mean = (1 - m) * mean + m * mmt[0]
        var = (1 - m) * var + m * mmt[1]
    return (math.sqrt(((bn.running_var - var) ** 2).sum()) +
            math.sqrt(((bn.running_mean - mean) ** 2).sum())), mean, var


def test_bn_prior_equals_formula_and_momentum():
    t = _teacher()
    prior = BNStatisticsPrior(momentum=0.9)
    assert prior.attach(t) == 2
    x = torch.randn(4, 2, 3, 3, requires_grad=True)
    with prior.recording():
        t(x)
    h2 = t.conv(t.bn1(x)).detach()
    l1, m1, v1 = _by_hand(x.detach(), t.bn1)
    l2, m2, v2 = _by_hand(h2, t.bn2)
    # the first round: no EMA yet, plain DeepInversion
    assert prior.loss().item() == pytest.approx(l1 + l2, rel=1e-5)
    prior.loss().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    prior.update_momentum()  # initialised to the first round's statistics
    assert torch.allclose(prior.mmt_mean_0, m1) and \
        torch.allclose(prior.mmt_var_1, v2)
    y = torch.randn(4, 2, 3, 3) * 2 + 1
    prior.reset()
    with prior.recording():
        t(y)
    hy = t.conv(t.bn1(y)).detach()
    k1, n1, w1 = _by_hand(y, t.bn1, (m1, v1), 0.9)
    k2, _, _ = _by_hand(hy, t.bn2, (m2, v2), 0.9)
    assert prior.loss().item() == pytest.approx(k1 + k2, rel=1e-5)
    prior.update_momentum()  # mmt <- m mmt + (1-m) batch stats
    bm = y.mean(dim=(0, 2, 3))
    assert torch.allclose(prior.mmt_mean_0, 0.9 * m1 + 0.1 * bm, atol=1e-6)
    # nothing recorded outside recording(); running stats never move
    before = t.bn1.running_mean.clone()
    prior.reset()
    t(y)
    assert not prior._terms and torch.equal(before, t.bn1.running_mean)


def test_bn_prior_refuses_teacher_without_bn():
    teacher = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    with pytest.raises(ConfigError, match='bn_weight=0') as e:
        BNStatisticsPrior().attach(teacher)
    assert '\n' not in str(e.value)


def test_task_term_with_phi():
    logits = torch.tensor([[2.0, 0.5, -1.0], [1.5, 0.0, 0.2],
                           [-0.3, 1.0, 0.4], [0.1, 0.2, 3.0]],
                          requires_grad=True)
    target = torch.tensor([1, 0, 2, 2])
    p = logits.detach().softmax(1)
    ce = -p[torch.arange(4), target].log()
    # teacher argmax: 0, 0, 1, 2 -> n = 2, 2, 1, 1; nbar = (2+2+1+1)/4
    n = torch.tensor([2., 2., 1., 1.])
    nbar = 1.5
    for gamma, kappa in ((2.0, 1.0), (2.0, -1.0), (0.0, 0.0), (1.0, 0.0)):
        phi = (1 - p[torch.arange(4), target]) ** gamma * (n / nbar) ** kappa
        loss = ModulatedTaskLoss(gamma, kappa, loss_weight=0.5)(logits,
                                                                target)
        assert loss.item() == pytest.approx(0.5 * (phi * ce).mean().item(),
                                            rel=1e-5)
    # kappa=0, gamma=0 is the plain CE (Fast's loss_oh)
    plain = ModulatedTaskLoss(0, 0)(logits, target)
    assert plain.item() == pytest.approx(
        nn.functional.cross_entropy(logits, target).item(), rel=1e-6)
    # the difficulty factor is not detached: focal-loss gradient
    focal = ModulatedTaskLoss(2.0, 0.0)(logits, target)
    g, = torch.autograd.grad(focal, logits)
    lt = logits.detach().clone().requires_grad_()
    pt = lt.softmax(1)[torch.arange(4), target]
    ref = (-(1 - pt) ** 2 * pt.log()).mean()
    g_ref, = torch.autograd.grad(ref, lt)
    assert torch.allclose(g, g_ref, atol=1e-6)


def test_phi_diversity_over_buffer_and_batch():
    """``phi_scope='buffer+batch'``: n_c counts the batch's teacher argmax
    labels plus the buffer's histogram; nbar is the mean of n over the
    whole scope. Batch argmax 0, 0, 1, 2; buffer histogram (1, 3, 0):
    n = (3, 4, 1); scope items: 3 of class 0, 4 of class 1, 1 of class 2,
    nbar = (3*3 + 4*4 + 1*1) / 8 = 26 / 8."""
    from kdtools.models.datafree import diversity_weight
    labels = torch.tensor([0, 0, 1, 2])
    got = diversity_weight(labels, 3, 1.0, torch.tensor([1., 3., 0.]))
    nbar = 26 / 8
    assert torch.allclose(got, torch.tensor([3., 3., 4., 1.]) / nbar)
    inv = diversity_weight(labels, 3, -1.0, torch.tensor([1., 3., 0.]))
    assert torch.allclose(inv, (torch.tensor([3., 3., 4., 1.]) / nbar) ** -1)
    # no buffer: the batch alone (n = 2, 2, 1, 1; nbar 1.5)
    assert torch.allclose(diversity_weight(labels, 3, 1.0),
                          torch.tensor([2., 2., 1., 1.]) / 1.5)


def test_adversarial_term():
    t = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.5], [0.3, 0.2, 0.1]],
                     requires_grad=True)
    s = torch.tensor([[1.0, 0.5, 0.0], [1.0, 0.0, 0.5], [0.9, 0.1, 0.0]],
                     requires_grad=True)
    pt, ps = t.detach().softmax(1), s.detach().softmax(1)
    kl = (pt * (pt.log() - ps.log())).sum(1)
    mask = torch.tensor([1., 0., 1.])  # argmax agree on samples 0 and 2
    loss = AdversarialDisagreementLoss(loss_weight=1.33)(s, t)
    assert loss.item() == pytest.approx(-1.33 * (kl * mask).mean().item(),
                                        rel=1e-5)
    loss.backward()  # neither side detached
    assert t.grad.abs().sum() > 0 and s.grad.abs().sum() > 0


def test_weighted_kd_term():
    torch.manual_seed(0)
    s, t = torch.randn(4, 3), torch.randn(4, 3)
    w = torch.tensor([1.0, 0.5, 0.25, 0.8])
    T = 20.0
    pt, ps = (t / T).softmax(1), (s / T).softmax(1)
    kl = (pt * (pt.log() - ps.log())).sum(1) * T * T
    loss = WeightedKDLoss(temperature=T)(s, t, weight=w)
    assert loss.item() == pytest.approx((w * kl).mean().item(), rel=1e-5)
    assert WeightedKDLoss(T)(s, t).item() == pytest.approx(
        kl.mean().item(), rel=1e-5)
