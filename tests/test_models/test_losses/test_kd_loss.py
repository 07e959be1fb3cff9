"""KDLoss (Hinton et al.) against its formula on hand-made logits."""
import pytest
import torch

from kdtools.models.losses import KDLoss
from _helpers.losses import S, T1, _kl, _softmax


def test_hinton_kd_by_hand():
    for t in (1.0, 2.0):
        want = t * t * _kl(_softmax([0, 2 / t, 0]), _softmax([1 / t, 0, 0]))
        assert KDLoss(temperature=t)(S, T1).item() == pytest.approx(want,
                                                                    rel=1e-6)
    with pytest.raises(ValueError, match='class counts'):
        KDLoss()(S, torch.zeros(1, 4))
