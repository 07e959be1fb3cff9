"""WideResNetCifar: WRN-d-k shapes, WRN-40-2's size, depth 6n + 4."""
import pytest
import torch
from mmengine.registry import MODELS


def test_wrn_stage_shapes():
    from kdtools.models.backbones import WideResNetCifar
    x = torch.zeros(2, 3, 32, 32)
    net = WideResNetCifar(depth=16, widen_factor=1, out_indices=(0, 1, 2))
    assert [len(getattr(net, f'layer{i}')) for i in (1, 2, 3)] == [2, 2, 2]
    assert [tuple(o.shape) for o in net(x)] == [
        (2, 16, 32, 32), (2, 32, 16, 16), (2, 64, 8, 8)]
    net = WideResNetCifar(depth=40, widen_factor=2)  # default: last stage
    outs = net(x)
    assert len(outs) == 1 and outs[0].shape == (2, 128, 8, 8)
    assert (outs[0] >= 0).all()  # after the final BN-ReLU


def test_wrn40_2_parameter_count():
    # WRN-40-2 is quoted as 2.2M parameters (the figure the WRN / CRD-style
    # KD tables give, without the class count); counted exactly here, with
    # a 10-class linear head: 2,243,546 (2.24M; 2,255,156 for 100 classes)
    model = MODELS.build(dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='kdtools.WideResNetCifar', depth=40,
                      widen_factor=2),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=10,
                  in_channels=128)))
    count = sum(p.numel() for p in model.parameters())
    assert count == 2_243_546
    assert abs(count - 2.2e6) / 2.2e6 < 0.025
    assert model(torch.zeros(1, 3, 32, 32), mode='tensor').shape == (1, 10)


def test_wrn_bad_depth_is_one_line_value_error():
    from kdtools.models.backbones import WideResNetCifar
    with pytest.raises(ValueError,
                       match='depth=15; expected 6n \\+ 4') as e:
        WideResNetCifar(depth=15)
    assert '\n' not in str(e.value)
