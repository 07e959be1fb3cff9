"""A non-finite loss (the student's own terms too) or gradient norm stops
the run at that iteration, before anything of it is saved (issue 21)."""
import math
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

from kdtools.engine.hooks import NonFiniteLossError
from kdtools.engine.runner_utils import add_kdtools_hooks


class BlowsUp(BaseModel):
    """Its task loss ``loss_dfl`` becomes ``value`` from iteration ``at``."""

    def __init__(self, at, value):
        super().__init__()
        self.fc = nn.Linear(4, 1)
        self.at, self.value, self.calls = at, value, 0

    def forward(self, inputs, mode='loss'):
        self.calls += 1
        loss = self.fc(inputs).pow(2).mean()
        if self.calls >= self.at:
            loss = loss * self.value
        return {'student.loss_cls': self.fc(inputs).abs().mean(),
                'student.loss_dfl': loss}


def _runner(tmp_path, model, clip_grad=None):
    cfg = Config(dict(custom_hooks=[]))
    add_kdtools_hooks(cfg)
    optim = dict(optimizer=dict(type='SGD', lr=0.01))
    if clip_grad:
        optim['clip_grad'] = clip_grad
    return Runner(
        model=model, work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=[dict(inputs=torch.randn(4)) for _ in range(8)],
            batch_size=2, sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=8),
        optim_wrapper=optim,
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1,
                                           by_epoch=False)),
        custom_hooks=cfg.custom_hooks)


@pytest.mark.parametrize('value', [math.inf, math.nan])
def test_non_finite_student_loss_stops_before_saving(tmp_path, value):
    runner = _runner(tmp_path, BlowsUp(at=3, value=value))
    with pytest.raises(NonFiniteLossError,
                       match=r'iteration 3 .*student\.loss_dfl='):
        runner.train()
    saved = sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth'))
    assert saved == ['iter_1.pth', 'iter_2.pth']  # the bad step not saved


def test_non_finite_grad_norm_stops(tmp_path):
    class InfGrad(BlowsUp):

        def forward(self, inputs, mode='loss'):
            out = super().forward(inputs, mode)
            if self.calls >= self.at:  # finite loss, infinite gradient
                out['student.loss_dfl'] = (self.fc.weight * 0 +
                                           self.fc.weight.detach()).sum() \
                    + torch.sqrt(torch.zeros(()) + self.fc.bias.sum() * 0)
            return out

    runner = _runner(tmp_path, InfGrad(at=2, value=1.0),
                     clip_grad=dict(max_norm=1e9))
    with pytest.raises(NonFiniteLossError, match='grad_norm='):
        runner.train()


def test_the_hook_is_added_once():
    cfg = Config(dict(custom_hooks=[dict(type='StopOnNonFiniteHook')]))
    add_kdtools_hooks(cfg)
    assert [h['type'] for h in cfg.custom_hooks] == [
        'StopOnNonFiniteHook', 'kdtools.RandomStateHook']
    cfg = Config(dict())
    add_kdtools_hooks(cfg)
    assert cfg.custom_hooks == [dict(type='kdtools.StopOnNonFiniteHook'),
                                dict(type='kdtools.RandomStateHook')]
