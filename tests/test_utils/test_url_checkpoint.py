"""Checkpoints given as URLs: read from the torch hub cache through the safe
loader, and, offline, one line naming the URL and where to put the file,
also for mmengine's load_from / init_cfg / torchvision:// loading."""
import os.path as osp

import pytest
import torch
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from kdtools.utils import CheckpointError, UnsafeCheckpointError
from kdtools.utils.url_checkpoint import cached_path, load_url_checkpoint

URL = 'http://127.0.0.1:9/models/teacher_20200101-0123abcd.pth'


class Obj:
    """A class no MMLab checkpoint pickles."""


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub cache under tmp_path."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    return tmp_path / 'hub' / 'checkpoints'


def test_unreachable_url_says_where_to_put_the_file(hub):
    expected = str(hub / 'teacher_20200101-0123abcd.pth')
    assert cached_path(URL) == expected
    for load in (load_url_checkpoint,
                 CheckpointLoader.load_checkpoint,
                 lambda url: load_checkpoint(torch.nn.Linear(3, 2), url)):
        with pytest.raises(CheckpointError) as e:
            load(URL)
        msg = str(e.value)
        assert '\n' not in msg and URL in msg and expected in msg
    assert not osp.exists(expected)


def test_torchvision_names_fail_the_same_way(hub):
    with pytest.raises(CheckpointError, match=str(hub / 'resnet18-')):
        CheckpointLoader.load_checkpoint('torchvision://resnet18')


def test_cached_file_is_loaded_by_the_safe_loader(hub):
    hub.mkdir(parents=True)
    model = torch.nn.Linear(3, 2)
    torch.save(dict(state_dict=model.state_dict()),
               str(hub / 'teacher_20200101-0123abcd.pth'))
    other = torch.nn.Linear(3, 2)
    load_checkpoint(other, URL)  # mmengine's http scheme, no download
    assert torch.equal(other.weight, model.weight)
    # a pickled object outside the allow-list is refused, as for paths
    torch.save(dict(state_dict={}, obj=Obj()), str(hub / 'bad.pth'))
    with pytest.raises(UnsafeCheckpointError):
        load_url_checkpoint('https://127.0.0.1:9/bad.pth')
