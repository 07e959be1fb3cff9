"""Recorders (outputs, inputs, tuple index, repeated calls) and the names
they refuse."""
import pytest
import torch
from torch import nn

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
