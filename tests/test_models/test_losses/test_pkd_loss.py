"""PKDLoss against hand-computed values: per-channel standardisation over
the batch and positions, 1/2 mean squared error (1 - r), the mmdet loss API,
and use as a Distiller feature term with an adapter."""
import math

import pytest
import torch

from kdtools.models.losses import PKDLoss


def anti():
    """One channel, four values over (N=2, W=2): t = -s + 5."""
    s = torch.tensor([[[[1., 2.]]], [[[3., 4.]]]])  # (2, 1, 1, 2)
    return s, 5 - s


def test_anti_correlated_channel_by_hand():
    """s = 1..4: mean 2.5, unbiased std sqrt(5/3); t = -s: the standardised
    maps are opposite, so L = 1/2 mean (2 s_hat)^2 = 2 * (1.25 / (5/3))
    = 1.5 (= (1 - r) (M-1)/M with r = -1, M = 4)."""
    s, t = anti()
    assert PKDLoss()(s, t).item() == pytest.approx(1.5, rel=1e-5)
    assert PKDLoss(loss_weight=6.0)(s, t).item() == pytest.approx(9.0,
                                                                  rel=1e-5)


def test_affine_images_of_the_teacher_cost_nothing():
    """Scale and offset per channel are what PKD ignores."""
    g = torch.Generator().manual_seed(0)
    t = torch.randn(2, 3, 4, 4, generator=g)
    scale = torch.tensor([0.1, 3.0, 7.0]).view(1, 3, 1, 1)
    s = t * scale + torch.tensor([5., -2., 0.]).view(1, 3, 1, 1)
    assert PKDLoss()(s, t).item() == pytest.approx(0.0, abs=1e-6)


def test_statistics_are_over_the_batch_not_per_image():
    """Standardised per image the two students below would equal the
    teacher; PKD's statistics span the batch, so the second image's offset
    of 10 counts: s = (1, 2, 11, 12) against t = (1, 2, 1, 2)."""
    s = torch.tensor([[[[1., 2.]]], [[[11., 12.]]]])
    t = torch.tensor([[[[1., 2.]]], [[[1., 2.]]]])

    def z(v):
        m = sum(v) / len(v)
        sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
        return [(x - m) / (sd + 1e-6) for x in v]

    zs, zt = z([1, 2, 11, 12]), z([1, 2, 1, 2])
    by_hand = sum((a - b) ** 2 for a, b in zip(zs, zt)) / 2 / 4
    assert by_hand > 0.3
    assert PKDLoss()(s, t).item() == pytest.approx(by_hand, rel=1e-5)


def test_weight_avg_factor_reduction_and_detached_teacher():
    s, t = anti()
    s.requires_grad_(True)
    t.requires_grad_(True)
    loss = PKDLoss()
    per = loss(s, t, reduction_override='none')
    assert per.shape == s.shape
    assert per.sum().item() == pytest.approx(6.0, rel=1e-5)
    w = torch.tensor([1., 0.]).view(2, 1, 1, 1)  # the first image only
    out = loss(s, t, weight=w, avg_factor=2.0)
    assert out.item() == pytest.approx(per[0].sum().item() / 2, rel=1e-5)
    out.backward()
    assert s.grad is not None and t.grad is None


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r'\(1, 2, 4, 4\).*\(1, 3, 4, 4\)'):
        PKDLoss()(torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 4, 4))


def test_pkd_as_a_distiller_feature_term_with_an_adapter(teacher_ckpt):
    """PKD on an FPN level of the embedded pair (64 vs 128 channels) through
    a 1x1 adapter: builds, and a step gives a finite positive term that
    trains the adapter."""
    from mmengine.registry import MODELS
    from _helpers.det import distiller_cfg, train_steps
    cfg = distiller_cfg(teacher_ckpt)
    cfg['distill_losses'] = dict(loss_pkd_p3=dict(
        type='PKDLoss', loss_weight=6.0,
        inputs=dict(preds_S='student.fpn.0', preds_T='teacher.fpn.0'),
        adapter=dict(type='ConvAdapter')))
    model = MODELS.build(cfg)
    before = model.adapters['loss_pkd_p3']['teacher'].conv.weight.clone()
    log = train_steps(model, n=1)[0]
    assert torch.isfinite(log['distill.loss_pkd_p3'])
    assert log['distill.loss_pkd_p3'] > 0
    assert not torch.equal(
        before, model.adapters['loss_pkd_p3']['teacher'].conv.weight)


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    from _helpers.det import make_teacher_ckpt
    return make_teacher_ckpt(tmp_path_factory)
