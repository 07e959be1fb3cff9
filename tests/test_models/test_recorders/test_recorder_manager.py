"""Recorders (outputs, inputs, tuple index, repeated calls) and the
ConvAdapter (channels and spatial alignment)."""
import pytest
import torch
from torch import nn

from kdtools.models.adapters import ConvAdapter
from kdtools.models.recorders import ModuleInputs, RecorderManager
from kdtools.utils import ConfigError


class Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.body = nn.Conv2d(1, 2, 1)
        self.head = nn.Identity()

    def forward(self, x):
        y = self.body(x)
        # the head is shared: called twice per forward
        return self.head(y), self.head((y * 2, y * 3))


def test_outputs_inputs_indices_and_calls():
    net = Net()
    manager = RecorderManager(
        dict(body='body', head=dict(type='ModuleOutputs', source='head'),
             head_in=dict(type='ModuleInputs', source='head')), net, 'test')
    x = torch.ones(1, 1, 2, 2)
    with manager.record():
        net(x)
    y = net.body(x)
    assert torch.equal(manager['body'].get(), y)
    assert len(manager['head'].data) == 2
    assert torch.equal(manager['head'].get(call_index=0), y)
    assert torch.equal(manager['head'].get(call_index=1, data_index=1), y * 3)
    assert torch.equal(manager['head_in'].get(call_index=0, data_index=0), y)
    assert isinstance(manager['head_in'], ModuleInputs)
    # outside record(): nothing is captured, the next record() starts fresh
    net(x)
    assert len(manager['head'].data) == 2
    with manager.record():
        pass
    with pytest.raises(RuntimeError, match='recorded nothing'):
        manager['head'].get()


def test_missing_module_lists_close_names():
    with pytest.raises(ConfigError) as e:
        RecorderManager(dict(x='bodyy'), Net(), 'student_recorders')
    assert "'bodyy'" in str(e.value) and 'body' in str(e.value)
    assert 'student_recorders.x' in str(e.value)


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
