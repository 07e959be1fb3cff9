"""The settings that choose SSD-KD's reading: with its own parts switched
off the SSD-KD path trains the same student as the Fast-2 config, loss for
loss; the generator's rounds are a setting of their own (the budget spread
over them); unnormalised importance weights enter the priority only;
DeepInversion's image priors and phi normalised to mean 1 match their
formulas on hand-made tensors."""
import math
import uuid

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.registry import MODELS

from kdtools.models.datafree.synthesis import image_prior
from kdtools.models.losses.modulated_task_loss import diversity_weight
from kdtools.utils import ConfigError
from _helpers.datafree import FAST, TOY, build, model_cfg


def _run(cfg_path, tmp_path, steps, seed, **override):
    """Build with ``seed``, run ``steps`` train steps: the logged losses
    and the final student state."""
    MessageHub.get_instance(f'datafree-reading-{uuid.uuid4().hex}')
    model, optim = build(cfg_path, tmp_path, **override)
    torch.manual_seed(seed)  # latents, targets, draws, augmentation
    model.train()
    losses = [model.train_step({}, optim).get('loss') for _ in range(steps)]
    return [None if x is None else float(x) for x in losses], \
        model.student.state_dict()


@pytest.mark.parametrize('seed', [0, 3])
def test_ssd_kd_with_its_parts_off_is_fast2(seed, tmp_path):
    """SSD-KD's config with uniform draws, phi = 1 (gamma = kappa = 0) and
    Fast's schedule trains, seed for seed, the student of the Fast-2 config
    at the same budget: the same loss at every step, the same weights."""
    same = dict(budget=12, synthesis=dict(batch_size=4, inner_steps=2,
                                          rounds=3))
    fast_losses, fast_student = _run(FAST, tmp_path, 7, seed, **same)
    off = dict(budget=12, buffer=dict(type='PriorityReplayBuffer',
                                      sampling='uniform', dtype='uint8'),
               synthesis=dict(batch_size=4, inner_steps=2, rounds=3,
                              warmup_ratio=20 / 220, span=1.0,
                              task=dict(type='ModulatedTaskLoss', gamma=0.0,
                                        kappa=0.0, loss_weight=0.5)))
    ssd_losses, ssd_student = _run(TOY, tmp_path, 7, seed, **off)
    assert fast_losses[0] is None  # a warm-up round, then distillation
    assert ssd_losses == fast_losses
    for k, v in fast_student.items():
        assert torch.equal(v, ssd_student[k]), k
    # with phi on, the same seed trains another student
    phi_losses, _ = _run(TOY, tmp_path, 7, seed, **{**off, 'synthesis': {
        **off['synthesis'], 'task': dict(type='ModulatedTaskLoss',
                                         gamma=2.0, kappa=1.0,
                                         loss_weight=0.5)}})
    assert phi_losses != fast_losses


def test_rounds_are_their_own_setting(tmp_path):
    """``synthesis.rounds``: R rounds of B images whatever the budget; the
    budget S is spread over them (floor((r+1) S / R) - floor(r S / R) of
    each round's images kept), so images generated R B, kept S."""
    MessageHub.get_instance(f'datafree-rounds-{uuid.uuid4().hex}')
    model, optim = build(TOY, tmp_path, budget=10, buffer_size=10,
                         synthesis=dict(batch_size=4, rounds=4,
                                        warmup_ratio=1.0))
    assert model.num_rounds == 4
    model.train()
    kept = []
    for _ in range(4):
        before = int(model.synthesised)
        logs = model.train_step({}, optim)
        kept.append(int(model.synthesised) - before)
    assert kept == [2, 3, 2, 3]
    assert model.generated == logs['generated'] == 16
    assert len(model.buffer) == 10
    # unset: ceil(S / B) rounds, whole batches until the budget is spent
    model, _ = build(TOY, tmp_path, budget=10, buffer_size=10,
                     synthesis=dict(batch_size=4))
    assert model.num_rounds == 3
    assert [model.round_quota(r) for r in range(3)] == [4, 4, 4]
    # too few rounds for the budget: one line naming both
    _, cfg = model_cfg(TOY, tmp_path, budget=20,
                       synthesis=dict(batch_size=4, rounds=3))
    with pytest.raises(ConfigError, match='rounds=3') as e:
        MODELS.build(cfg)
    assert '\n' not in str(e.value) and 'model.budget=20' in str(e.value)
    # rounds may make a budget below one batch
    model, _ = build(TOY, tmp_path, budget=3, buffer_size=3,
                     synthesis=dict(batch_size=4, rounds=3))
    assert [model.round_quota(r) for r in range(3)] == [1, 1, 1]


def test_unnormalised_weights_enter_the_priority_only(tmp_path):
    """``weight_norm='none'``: ``w = (N P)^-beta`` without normalisation
    sets the priorities ``delta = w KL``, and the student's loss is the
    unweighted mean."""
    from kdtools.models.datafree import PriorityReplayBuffer
    buf = PriorityReplayBuffer(4, (1, 2, 2), weight_norm='none')
    buf.add(torch.rand(4, 1, 2, 2))
    buf.priorities.copy_(torch.tensor([1.0, 2.0, 4.0, 8.0]))
    probs = buf.probabilities()
    want = (4 * probs) ** -0.5
    assert torch.allclose(buf.weights(probs, 0.5), want)
    assert want.max() > 1  # not divided by the maximum
    assert not buf.weights_loss
    assert PriorityReplayBuffer(4, (1, 2, 2)).weights_loss
    assert not PriorityReplayBuffer(4, (1, 2, 2),
                                    sampling='uniform').weights_loss

    MessageHub.get_instance(f'datafree-wnone-{uuid.uuid4().hex}')
    model, optim = build(TOY, tmp_path, budget=8,
                         buffer=dict(type='PriorityReplayBuffer',
                                     weight_norm='none'),
                         synthesis=dict(batch_size=4, warmup_ratio=0.5))
    model.train()
    model.train_step({}, optim)  # warm-up round
    model.train_step({}, optim)  # a round and a distillation step
    seen = {}
    kd_loss = model.kd_loss.forward

    def spy(preds_S, preds_T, weight=None, **kw):
        seen['weight'] = weight
        return kd_loss(preds_S, preds_T, weight=weight, **kw)
    model.kd_loss.forward = spy
    sample = model.buffer.sample

    def drawn(b, beta):
        idx, images, w = sample(b, beta)
        seen['idx'], seen['w'] = idx, w
        return idx, images, w
    model.buffer.sample = drawn
    model.train_step({}, optim)
    assert seen['weight'] is None  # the loss is unweighted
    assert (model.buffer.priorities[seen['idx']] > 0).all()


def test_image_prior_matches_the_reference_formula():
    """DeepInversion's priors: the L2 norms of the four neighbour
    differences, and of the image, each over the whole batch."""
    x = torch.tensor([[[[0.0, 1.0], [3.0, 5.0]]]])  # (1, 1, 2, 2)
    d_w = math.sqrt(1 ** 2 + 2 ** 2)      # (0-1), (3-5)
    d_h = math.sqrt(3 ** 2 + 4 ** 2)      # (0-3), (1-5)
    d_diag1 = abs(3.0 - 1.0)              # x[1, 0] - x[0, 1]
    d_diag2 = abs(0.0 - 5.0)              # x[0, 0] - x[1, 1]
    tv = d_w + d_h + d_diag1 + d_diag2
    l2 = math.sqrt(0 + 1 + 9 + 25)
    got = image_prior(x, 0.5, 0.0)
    assert got.item() == pytest.approx(0.5 * tv)
    assert image_prior(x, 0.0, 2.0).item() == pytest.approx(2 * l2)
    assert image_prior(x, 0.5, 2.0).item() == pytest.approx(
        0.5 * tv + 2 * l2)
    assert image_prior(x, 0.0, 0.0).item() == 0.0


def test_phi_normalised_to_mean_one():
    """``phi_norm='mean'``: ``n^kappa`` over its scope mean; mean 1 for any
    kappa, equal to the n-bar form at kappa = 1."""
    labels = torch.tensor([0, 0, 1])  # n = (2, 1)
    inv = diversity_weight(labels, 3, -1.0, norm='mean')
    # n^-1 = (1/2, 1/2, 1); its mean over the scope 2/3
    assert torch.allclose(inv, torch.tensor([0.75, 0.75, 1.5]))
    assert inv.mean().item() == pytest.approx(1.0)
    assert diversity_weight(labels, 3, -1.0).mean().item() != \
        pytest.approx(1.0)  # the n-bar form at kappa = -1
    for counts in (None, torch.tensor([1., 3., 0.])):
        assert torch.allclose(
            diversity_weight(labels, 3, 1.0, counts, norm='mean'),
            diversity_weight(labels, 3, 1.0, counts))
    from kdtools.models.losses.modulated_task_loss import ModulatedTaskLoss
    with pytest.raises(ValueError, match="phi_norm='max'"):
        ModulatedTaskLoss(phi_norm='max')
