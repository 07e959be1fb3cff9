"""Data-free KD for segmentation (DATAFREE.md 7): per-pixel phi with
inverse frequency over the teacher's own labels, the per-image priority
delta = w * mean_u KL and the weighted per-pixel KD loss equal their
formulas on hand-made score maps (batch 2, 3 classes, 4x4); the toy
segmentation config runs synthesis and distillation with a random
teacher, which stays bit-identical."""
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from kdtools.models.datafree.synthesis import (logits_of, per_image_kl,
                                               per_pixel, pixel_rows)
from kdtools.models.losses.adversarial_disagreement_loss import \
    AdversarialDisagreementLoss
from kdtools.models.losses.modulated_task_loss import ModulatedTaskLoss
from kdtools.models.losses.weighted_kd_loss import WeightedKDLoss
from kdtools.utils import ConfigError
from _helpers.datafree import ROOT, build as _build, model_cfg as _model_cfg

SEG = osp.join(ROOT, 'configs', 'datafree',
               'ssd-kd_pspnet-mbv2-d8_to_fcn-r18-base16-d8_toyseg.py')
TOYCLS = osp.join(ROOT, 'configs', 'datafree',
                  'ssd-kd_resnet32-cifar_to_resnet14-cifar_toycls.py')


def _maps(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, 4, 4, generator=g) * 2


def _probs(logits, j, u):
    return F.softmax(logits[j, :, u // 4, u % 4], dim=0)


def test_pixel_rows_order():
    t = _maps(0)
    rows = pixel_rows(t)
    assert rows.shape == (32, 3)
    for j in range(2):
        for u in range(16):
            assert torch.equal(rows[j * 16 + u], t[j, :, u // 4, u % 4])
    assert pixel_rows(rows) is rows


def test_per_pixel_phi_inverse_frequency_and_task_term():
    t = _maps(1)
    t[0, 0] += 3  # image 0 mostly class 0: a crowded class
    loss = ModulatedTaskLoss(gamma=2.0, kappa=-1.0, loss_weight=1.0)
    rows = pixel_rows(t)
    labels = rows.argmax(1)
    phi = loss.phi(rows, labels)
    yhat = t.argmax(1)  # (2, 4, 4)
    n = torch.bincount(yhat.flatten(), minlength=3).double()
    nbar = sum(n[yhat[j, u // 4, u % 4]] for j in range(2)
               for u in range(16)) / 32
    expected, terms = [], []
    for j in range(2):
        for u in range(16):
            c = int(yhat[j, u // 4, u % 4])
            p = float(_probs(t, j, u)[c])
            f = (n[c] / nbar) ** -1 * (1 - p) ** 2
            expected.append(float(f))
            terms.append(float(f) * -math.log(p))
    assert torch.allclose(phi.double(), torch.tensor(expected,
                                                     dtype=torch.double),
                          rtol=1e-5)
    # crowded class -> smaller weight
    assert n.max() > n.min()
    assert float(loss(rows, labels)) == pytest.approx(
        sum(terms) / 32, rel=1e-5)


def test_per_image_delta_and_weighted_pixel_kd():
    s, t = _maps(2), _maps(3)
    w = torch.tensor([0.5, 1.0])
    kl = per_image_kl(s, t)
    expected = []
    for j in range(2):
        tot = 0.0
        for u in range(16):
            pt, ps = _probs(t, j, u), _probs(s, j, u)
            tot += float((pt * (pt.log() - ps.log())).sum())
        expected.append(tot / 16)
    assert torch.allclose(kl.double(), torch.tensor(expected).double(),
                          rtol=1e-5)
    delta = w * kl  # the priority of DATAFREE.md 7.3
    assert torch.allclose(delta, torch.tensor(expected).float() * w,
                          rtol=1e-5)
    # student term: mean_j w_j mean_u KL_T (T = 1)
    kd = WeightedKDLoss(temperature=1.0)
    got = kd(pixel_rows(s), pixel_rows(t), weight=per_pixel(w, s))
    assert float(got) == pytest.approx(
        (0.5 * expected[0] + expected[1]) / 2, rel=1e-5)
    assert torch.equal(per_pixel(w, torch.zeros(2, 3)), w)
    # adversarial term per pixel: -mean_{j,u} 1[agree] KL
    adv = AdversarialDisagreementLoss()(pixel_rows(s), pixel_rows(t))
    agree = (s.argmax(1) == t.argmax(1)).flatten(1).double()
    klu = (F.softmax(t, 1) * (F.log_softmax(t, 1) - F.log_softmax(s, 1))
           ).sum(1).flatten(1).double()
    assert float(adv) == pytest.approx(float(-(agree * klu).mean()),
                                       rel=1e-5)


def test_seg_run_teacher_unchanged_priorities_per_image(tmp_path):
    model, optim = _build(SEG, tmp_path, budget=8,
                          generator=dict(img_size=32, ngf=8, nz=16),
                          synthesis=dict(batch_size=4, warmup_ratio=0.5))
    assert model.task == 'seg' and model.num_classes == 11
    # segmentation defaults: kappa = -1 (inverse frequency), T = 1
    assert model.task_loss.kappa == -1.0 and model.kd_loss.temperature == 1
    teacher = model.teacher
    t_state = {k: v.clone() for k, v in teacher.state_dict().items()}
    s_state = {k: v.clone() for k, v in model.student.state_dict().items()}
    x = torch.rand(2, 3, 32, 32)
    out = logits_of(teacher, x)  # resized to the image, as mmseg predicts
    assert out.shape == (2, 11, 32, 32)
    model.train()
    logs = [model.train_step({}, optim) for _ in range(3)]
    assert 'loss_kd' not in logs[0] and 'loss_kd' in logs[2]
    assert all(torch.isfinite(torch.as_tensor(v)) for v in
               (logs[1]['loss'], logs[1]['syn_loss_task']))
    assert int(model.rounds_done) == 2 and len(model.buffer) == 8
    assert model.buffer.priorities.shape == (8, )  # one per image
    assert (model.buffer.priorities != 1.0).any()  # refreshed
    assert all(p.grad is None for p in teacher.parameters())
    for k, v in teacher.state_dict().items():  # BN running stats included
        assert torch.equal(v, t_state[k]), k
    assert any(not torch.equal(v, s_state[k]) for k, v in
               model.student.state_dict().items() if v.is_floating_point())


def test_seg_phi_scope_counts_pixels(tmp_path):
    """``phi_scope='buffer+batch'`` for segmentation: each buffer image
    contributes the histogram of its pixels' teacher argmax."""
    model, optim = _build(SEG, tmp_path, budget=4,
                          generator=dict(img_size=32, ngf=8, nz=16),
                          synthesis=dict(batch_size=4, warmup_ratio=1.0,
                                         phi_scope='buffer+batch'))
    model.train()
    model.train_step({}, optim)
    counts = model.buffer_class_counts
    assert counts.shape == (4, 11)
    assert torch.equal(counts.sum(1), torch.full((4, ), 32. * 32))
    assert model.scope_counts().sum() == 4 * 32 * 32


def test_task_must_match_the_teacher(tmp_path):
    _, cfg = _model_cfg(TOYCLS, tmp_path)
    cfg['task'] = 'seg'
    from mmengine.registry import MODELS
    with pytest.raises(ConfigError, match="model.task='seg'") as e:
        MODELS.build(cfg)
    assert '\n' not in str(e.value)
    cfg['task'] = 'det'
    with pytest.raises(ConfigError, match='expected'):
        MODELS.build(cfg)
