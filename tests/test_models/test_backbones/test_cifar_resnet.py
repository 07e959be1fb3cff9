"""CifarResNet: depth 6n + 2."""
import pytest
import torch


def test_cifar_resnet_depths():
    from kdtools.models.backbones import CifarResNet
    net = CifarResNet(depth=32)
    assert [len(getattr(net, f'layer{i}')) for i in (1, 2, 3)] == [5, 5, 5]
    out = net(torch.zeros(1, 3, 32, 32))
    assert out[-1].shape == (1, 64, 8, 8)
    with pytest.raises(ValueError, match='depth=15; expected 6n \\+ 2'):
        CifarResNet(depth=15)
