"""TeacherBoundedRegressionLoss (Chen et al. 2017) against hand-computed
values."""
import pytest
import torch


def test_bounded_regression_by_hand():
    from kdtools.models.losses import TeacherBoundedRegressionLoss
    y = torch.zeros(2, 4)
    # box 0: student worse than teacher -> L2 term; box 1: student better
    # than the teacher by more than the margin -> exactly 0, no gradient
    s = torch.tensor([[1., 1., 0., 0.], [0.1, 0., 0., 0.]],
                     requires_grad=True)
    t = torch.tensor([[0.5, 0., 0., 0.], [1., 1., 0., 0.]])
    loss = TeacherBoundedRegressionLoss(margin=0.5, reduction='none',
                                        loss_weight=1.0)
    out = loss(s, t, y)
    assert out.tolist() == pytest.approx([2.0, 0.0])
    out.sum().backward()
    assert torch.equal(s.grad[1], torch.zeros(4))
    assert torch.allclose(s.grad[0], torch.tensor([2., 2., 0., 0.]))
    # within the margin the student is still pushed: 0.01 + 0.5 > 2 is
    # false, but with margin 3 it is true
    wide = TeacherBoundedRegressionLoss(margin=3.0, reduction='none',
                                        loss_weight=1.0)
    assert wide(s, t, y)[1].item() == pytest.approx(0.01)
    # mmdet bbox_weights (N, 4) and avg_factor
    w = torch.tensor([[1., 1., 1., 1.], [0., 0., 0., 0.]])
    nu = TeacherBoundedRegressionLoss(margin=0.5, loss_weight=0.5)
    assert nu(s, t, y, weight=w, avg_factor=1.0).item() == \
        pytest.approx(0.5 * 2.0)
