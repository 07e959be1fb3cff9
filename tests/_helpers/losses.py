"""Reference formulas on plain Python numbers, and the hand-made logits of
the classification loss tests."""
import math

import torch


def _kl(p, q):
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))


def _softmax(z):
    e = [math.exp(v) for v in z]
    return [v / sum(e) for v in e]


S = torch.tensor([[1.0, 0.0, 0.0]])
T1 = torch.tensor([[0.0, 2.0, 0.0]])
T2 = torch.tensor([[0.0, 0.0, 1.0]])
Y = torch.tensor([0])
