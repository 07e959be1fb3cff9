"""Teachers: in-place activations switched off (they would overwrite what
the recorders keep) and a checkpoint that does not match the teacher's
config refused, naming the keys; a checkpoint given as a URL (the hub
cache) and one holding nan refused, naming the tensor."""
import os.path as osp
import shutil

import pytest
import torch

from kdtools.utils import CheckpointError
from _helpers.det import build, make_teacher_ckpt


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """A random-weight GFL (MobileNetV2) teacher checkpoint."""
    return make_teacher_ckpt(tmp_path_factory)


def test_inplace_activations_switched_off(teacher_ckpt):
    # the hint teacher's nn.ReLUs (its head's) are not reached by the
    # build-time forward, so they are switched off as before; which in-place
    # modules stay on is tested in test_teacher_inference.py
    model = build(teacher_ckpt)
    (teacher, ) = model.teacher_models.values()
    relus = [m for m in teacher.modules() if isinstance(m, torch.nn.ReLU)]
    assert relus and not any(m.inplace for m in relus)


def test_mismatched_teacher_checkpoint_refused(teacher_ckpt, tmp_path):
    state = torch.load(teacher_ckpt, weights_only=False)['state_dict']
    bad = dict(state)
    bad.pop('bbox_head.gfl_cls.weight')
    bad['backbone.conv1.weight'] = torch.zeros(1)
    bad['extra.weight'] = torch.zeros(1)
    path = str(tmp_path / 'bad.pth')
    torch.save(dict(state_dict=bad), path)
    with pytest.raises(CheckpointError) as e:
        build(path)
    msg = str(e.value)
    assert 'bbox_head.gfl_cls.weight' in msg and 'extra.weight' in msg
    assert 'backbone.conv1.weight' in msg and 'teachers.teacher' in msg
    with pytest.raises(CheckpointError, match='does not exist'):
        build(str(tmp_path / 'missing.pth'))


def test_teacher_checkpoint_as_url(teacher_ckpt, tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    url = 'http://127.0.0.1:9/gfl/teacher_20200101-0123abcd.pth'
    cached = tmp_path / 'hub' / 'checkpoints' / osp.basename(url)
    with pytest.raises(CheckpointError) as e:  # offline, nothing cached
        build(url)
    assert 'teachers.teacher' in str(e.value) and str(cached) in str(e.value)
    shutil.copy(teacher_ckpt, cached)
    model = build(url)
    assert model.teacher_models['teacher'].kdtools_checkpoint == str(cached)


def test_non_finite_teacher_checkpoint_refused(teacher_ckpt, tmp_path):
    state = torch.load(teacher_ckpt, weights_only=False)['state_dict']
    state['neck.fpn_convs.1.conv.weight'][0, 0, 0, 0] = float('nan')
    path = str(tmp_path / 'nan.pth')
    torch.save(dict(state_dict=state), path)
    with pytest.raises(CheckpointError,
                       match=r'non-finite.*neck\.fpn_convs\.1\.conv\.weight'):
        build(path)
