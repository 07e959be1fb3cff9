"""SSD-KD's replay buffer (DATAFREE.md 2.8-2.9): P, w and delta equal their
formulas; capacity, FIFO and lowest-priority eviction, insertion at the
maximum priority, refresh of the sampled priorities only; sampling
frequencies follow P; Fast-Datafree's memory bank samples uniformly."""
import pytest
import torch

from kdtools.models.datafree import MemoryBank, PriorityReplayBuffer
from kdtools.models.losses.utils import tempered_kl
from kdtools.utils import ConfigError


def _images(k, value=0.5):
    return torch.full((k, 1, 2, 2), value)


def _buffer(cap=4, **kw):
    return PriorityReplayBuffer(cap, image_shape=(1, 2, 2), **kw)


def test_probability_weight_and_delta_formulas():
    buf = _buffer(4, alpha=0.6, eps=1e-6)
    buf.add(_images(4))
    delta = torch.tensor([0.5, 0.1, 2.0, 0.0])
    buf.update_priorities(torch.arange(4), delta)
    p = (delta.abs() + 1e-6) ** 0.6
    P = p / p.sum()
    assert torch.allclose(buf.probabilities(), P)
    beta = 0.4
    w = (4 * P) ** -beta
    assert torch.allclose(buf.weights(buf.probabilities(), beta), w / w.max())
    assert float(buf.weights(buf.probabilities(), beta).max()) == 1.0
    # delta = w * KL(f_t || f_s) at T = 1, as the distiller computes it
    t, s = torch.randn(3, 3), torch.randn(3, 3)
    pt, ps = t.softmax(1), s.softmax(1)
    kl = (pt * (pt.log() - ps.log())).sum(1)
    assert torch.allclose(tempered_kl(s, t, 1.0, dim=1), kl, atol=1e-6)


def test_batch_mean_weight_norm():
    """``weight_norm='batch_mean'``: the drawn batch's weights are
    ``(N P)^-beta`` over their batch mean (mean 1), PER's ``/ max`` (every
    w <= 1) otherwise; the ratios between drawn items are the same."""
    torch.manual_seed(0)
    bufs = [_buffer(4, weight_norm=norm) for norm in ('max', 'batch_mean')]
    delta = torch.tensor([0.5, 0.1, 2.0, 0.01])
    for buf in bufs:
        buf.add(_images(4))
        buf.update_priorities(torch.arange(4), delta)
    torch.manual_seed(1)
    idx_max, _, w_max = bufs[0].sample(6, 0.7)
    torch.manual_seed(1)
    idx_mean, _, w_mean = bufs[1].sample(6, 0.7)
    assert torch.equal(idx_max, idx_mean)
    p = (delta + 1e-6) ** 0.6
    raw = (4 * p / p.sum()) ** -0.7
    assert torch.allclose(w_max, (raw / raw.max())[idx_max])
    assert torch.allclose(w_mean, raw[idx_mean] / raw[idx_mean].mean())
    assert float(w_mean.mean()) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="weight_norm='sum'"):
        _buffer(4, weight_norm='sum')


def test_capacity_fifo_eviction_and_max_priority_insert():
    buf = _buffer(4)
    buf.add(_images(3, 0.1))
    assert len(buf) == 3 and torch.allclose(buf.priorities[:3],
                                            torch.ones(3))
    buf.update_priorities(torch.tensor([0, 2]), torch.tensor([0.3, 5.0]))
    slots = buf.add(_images(3, 0.9))
    # one free slot, then the two oldest (0 and 1) are overwritten
    assert slots.tolist() == [3, 0, 1]
    assert len(buf) == 4 and int(buf.inserted) == 6 and int(buf.ptr) == 2
    # new items enter at the maximum priority of the buffer (5.0)
    assert buf.priorities.tolist() == pytest.approx([5.0, 5.0, 5.0, 5.0])
    assert (buf.images[[0, 1, 3]] == round(0.9 * 255)).all()
    assert (buf.images[2] == round(0.1 * 255)).all()
    slots = buf.add(_images(2, 0.2))  # the oldest now: 2, then 3
    assert slots.tolist() == [2, 3] and len(buf) == 4


def test_lowest_priority_eviction():
    buf = _buffer(4, evict='lowest_priority')
    buf.add(_images(4))
    buf.update_priorities(torch.arange(4),
                          torch.tensor([0.4, 0.05, 0.9, 0.01]))
    slots = buf.add(_images(2, 1.0))
    assert sorted(slots.tolist()) == [1, 3]
    assert buf.priorities.tolist() == pytest.approx([0.4, 0.9, 0.9, 0.9])


def test_refresh_only_sampled_priorities():
    torch.manual_seed(0)
    buf = _buffer(8)
    buf.add(_images(8))
    buf.update_priorities(torch.arange(8), torch.arange(1, 9).float())
    before = buf.priorities.clone()
    idx, x, w = buf.sample(3, beta=0.5)
    assert x.shape == (3, 1, 2, 2) and w.shape == (3, )
    buf.update_priorities(idx, torch.full((3, ), 0.123))
    touched = set(idx.tolist())
    for i in range(8):
        expect = 0.123 if i in touched else float(before[i])
        assert float(buf.priorities[i]) == pytest.approx(expect)


def test_sampling_frequencies_follow_p():
    torch.manual_seed(0)
    buf = _buffer(4, alpha=1.0, eps=0.0)
    buf.add(_images(4))
    buf.update_priorities(torch.arange(4), torch.tensor([1., 2., 3., 4.]))
    n = 20000
    idx, _, _ = buf.sample(n, beta=1.0)
    freq = torch.bincount(idx, minlength=4).float() / n
    expect = torch.tensor([0.1, 0.2, 0.3, 0.4])
    # 4 standard errors of a binomial proportion
    tol = 4 * (expect * (1 - expect) / n).sqrt()
    assert ((freq - expect).abs() < tol).all(), freq


def test_memory_bank_is_uniform_and_unweighted():
    torch.manual_seed(0)
    bank = MemoryBank(6, image_shape=(1, 2, 2))
    bank.add(_images(6))
    bank.update_priorities(torch.arange(6), torch.arange(6).float())
    assert torch.allclose(bank.probabilities(), torch.full((6, ), 1 / 6))
    idx, _, w = bank.sample(6000, beta=1.0)
    assert torch.equal(w, torch.ones(6000))
    freq = torch.bincount(idx, minlength=6).float() / 6000
    assert (freq - 1 / 6).abs().max() < 0.03


def test_bad_buffer_config():
    for kw in (dict(evict='random'), dict(sampling='rank'),
               dict(dtype='int8')):
        with pytest.raises(ConfigError):
            _buffer(4, **kw)
