"""Safe checkpoint loading (weights_only=True + the MMLab allow-list) and
atomic writes."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, save_checkpoint

from kdtools.utils import (CheckpointError, UnsafeCheckpointError,
                           load_checkpoint_file, trust_checkpoint)
from kdtools.utils import checkpoint as ckpt_mod


class Payload:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def _mmengine_style_checkpoint(path):
    hub = MessageHub.get_instance('kdtools-test-hub')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/lr', np.float64(0.01))
    hub.update_info('iter', 7)
    model = torch.nn.Linear(3, 2)
    ckpt = dict(
        meta=dict(epoch=1, iter=7, seed=np.int64(3),
                  cfg='model = dict(type="X")',
                  dataset_meta=dict(classes=('a', 'b')),
                  mmengine_version='0.10.7', experiment_name='exp',
                  hook_msgs=dict(best_score=np.float32(0.25)),
                  cfg_dict=ConfigDict(a=1, b=dict(c=2))),
        state_dict=model.state_dict(),
        message_hub=hub.state_dict(),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1).state_dict(),
        param_schedulers=[dict(last_epoch=3, base_lrs=[0.1])],
        history=HistoryBuffer([1.0, 2.0], [1, 1]),
        array=np.arange(4, dtype=np.float32))
    save_checkpoint(ckpt, str(path))
    return model


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


def test_resume_skips_incomplete_checkpoints(tmp_path):
    from kdtools.engine.runner_utils import find_resume_checkpoint
    good = tmp_path / 'epoch_1.pth'
    _mmengine_style_checkpoint(good)
    bad = tmp_path / 'epoch_2.pth'
    bad.write_bytes(good.read_bytes()[:100])  # truncated
    os.utime(bad, (osp.getmtime(good) + 10, ) * 2)
    (tmp_path / 'last_checkpoint').write_text(str(bad))
    assert find_resume_checkpoint(str(tmp_path)) == str(good)
    assert find_resume_checkpoint(str(tmp_path / 'empty')) is None


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
