"""ConvAdapter: channels and spatial alignment."""
import pytest
import torch

from kdtools.models.adapters import ConvAdapter


def test_adapter_channels_and_spatial_alignment():
    adapter = ConvAdapter(4, 8)
    s = torch.randn(2, 4, 8, 8)
    t = torch.randn(2, 8, 16, 16)
    assert adapter(s, t).shape == (2, 8, 16, 16)
    assert adapter(s).shape == (2, 8, 8, 8)
    with pytest.raises(RuntimeError, match=r'\(2, 8, 8, 8\).*\(2, 8, 16, 16\)'):
        ConvAdapter(4, 8, align='none')(s, t)
    normed = ConvAdapter(4, 8, norm_cfg=dict(type='BN'),
                         act_cfg=dict(type='ReLU'))
    assert normed.conv.bias is None and (normed(s) >= 0).all()
