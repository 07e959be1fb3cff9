"""Safe checkpoint loading (weights_only=True + the MMLab allow-list) and
atomic writes."""
import os

import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from kdtools.utils import (CheckpointError, UnsafeCheckpointError,
                           load_checkpoint_file, trust_checkpoint)
from kdtools.utils import checkpoint as ckpt_mod
from _helpers.checkpoints import _mmengine_style_checkpoint


class Payload:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    path = tmp_path / 'epoch_1.pth'
    model = _mmengine_style_checkpoint(path)
    # plain torch refuses it: this is the breakage being fixed
    with pytest.raises(Exception):
        torch.load(str(path))
    ckpt = load_checkpoint_file(str(path))
    assert ckpt['meta']['seed'] == 3
    assert isinstance(ckpt['meta']['cfg_dict'], ConfigDict)
    assert ckpt['message_hub']['log_scalars']['train/loss'].current() == 1.5
    assert np.array_equal(ckpt['array'], np.arange(4, dtype=np.float32))
    # mmengine's own loaders go through it too
    other = torch.nn.Linear(3, 2)
    load_checkpoint(other, str(path), strict=True)
    assert torch.equal(other.weight, model.weight)
    assert CheckpointLoader._get_checkpoint_loader(str(path)).__name__ == \
        'load_from_local'


def test_pickled_callable_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': Payload(str(marker))}, str(path))
    with pytest.raises(UnsafeCheckpointError) as e:
        load_checkpoint_file(str(path))
    msg = str(e.value)
    assert str(path) in msg and '--trust-checkpoint' in msg
    assert 'trusted_checkpoints' in msg and 'open' in msg
    assert not marker.exists()
    # also through mmengine's entry points (load_from / resume use these)
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(torch.nn.Linear(1, 1), str(path))
    assert not marker.exists()


def test_explicit_opt_in_loads_trusted_file(tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt_mod, '_TRUSTED', set())
    marker = tmp_path / 'ran'
    path = tmp_path / 'custom.pth'
    torch.save({'state_dict': {}, 'x': Payload(str(marker))}, str(path))
    trust_checkpoint(str(path))
    ckpt = load_checkpoint_file(str(path))
    assert 'x' in ckpt and marker.exists()


def test_missing_and_corrupt_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match='does not exist'):
        load_checkpoint_file(str(tmp_path / 'none.pth'))
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(b'not a checkpoint')
    with pytest.raises(CheckpointError):
        load_checkpoint_file(str(bad))


def test_local_writes_are_atomic(tmp_path, monkeypatch):
    from mmengine.fileio.backends import LocalBackend
    target = tmp_path / 'latest.pth'
    target.write_bytes(b'old complete checkpoint')

    def die(*args):
        raise KeyboardInterrupt  # killed in the middle of the write

    monkeypatch.setattr(os, 'fsync', die)
    with pytest.raises(KeyboardInterrupt):
        LocalBackend().put(b'new partial', str(target))
    assert target.read_bytes() == b'old complete checkpoint'
    assert os.listdir(tmp_path) == ['latest.pth']  # no temporary left
    monkeypatch.undo()
    LocalBackend().put(b'new', str(target))
    assert target.read_bytes() == b'new'


class Evil:
    pass


def test_getattr_only_for_history_buffer_statistics(tmp_path):
    """A checkpoint that uses getattr on anything but a HistoryBuffer's
    statistics methods is refused."""
    import pickle

    class Sneaky:
        def __reduce__(self):
            return (getattr, (np.ndarray, 'tofile'))

    path = tmp_path / 'getattr.pth'
    torch.save({'x': Sneaky()}, str(path))
    with pytest.raises((UnsafeCheckpointError, pickle.UnpicklingError)):
        load_checkpoint_file(str(path))
