"""OptimizerResetHook: the optimizer state is cleared at its epochs only."""
import pytest
import torch


def test_optimizer_reset_hook_clears_state_at_its_epochs():
    from types import SimpleNamespace

    from mmengine.optim import OptimWrapper

    from kdtools.engine import OptimizerResetHook
    p = torch.nn.Parameter(torch.ones(3))
    wrapper = OptimWrapper(torch.optim.Adam([p], lr=0.1))
    wrapper.update_params((p * 1000).sum())
    assert wrapper.optimizer.state[p]['exp_avg_sq'].max() > 100
    hook = OptimizerResetHook(epochs=[2])
    hook.before_train_epoch(SimpleNamespace(epoch=1, optim_wrapper=wrapper))
    assert wrapper.optimizer.state  # not its epoch: kept
    hook.before_train_epoch(SimpleNamespace(epoch=2, optim_wrapper=wrapper))
    assert not wrapper.optimizer.state
    with pytest.raises(ValueError, match='epochs=\\[-1\\]'):
        OptimizerResetHook(epochs=[-1])
