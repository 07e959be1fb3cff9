"""A kill while a checkpoint is being saved never loses progress (issue 21):
mmengine's CheckpointHook deleted the old checkpoint before writing the new
one; kdtools writes new, points last_checkpoint, then deletes old, and
``--resume`` falls back to the newest complete checkpoint or fails loudly."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time
import zipfile

import pytest
import torch

from kdtools.engine.runner_utils import (find_resume_checkpoint,
                                         resolve_resume)
from kdtools.utils.checkpoint import load_checkpoint_file
from kdtools.utils.errors import CheckpointError

JOB = osp.join(osp.dirname(__file__), '_kill_during_save_job.py')


def _kill_during_save(work_dir, max_keep, delay, nth_save=3):
    """Start the job, SIGKILL it ``delay`` s after its ``nth_save``-th
    "SAVING" line; return its output so far."""
    proc = subprocess.Popen(
        [sys.executable, JOB, str(work_dir), str(max_keep), '50'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    seen, lines = 0, []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith('SAVING'):
            seen += 1
            if seen == nth_save:
                time.sleep(delay)
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=60)
    assert seen == nth_save, ''.join(lines)[-2000:]
    return lines


def _check_resumable(work_dir):
    found = find_resume_checkpoint(str(work_dir))
    assert found is not None, os.listdir(work_dir)
    ckpt = load_checkpoint_file(found)
    assert ckpt['meta']['iter'] >= 1
    assert not [f for f in os.listdir(work_dir) if f.endswith('.tmp')]
    out = subprocess.run(
        [sys.executable, JOB, str(work_dir), '1', str(ckpt['meta']['iter'] + 1),
         'resume', found], capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert out.returncode == 0, out.stderr[-2000:]
    assert f'DONE {ckpt["meta"]["iter"] + 1}' in out.stdout, out.stdout


@pytest.mark.parametrize('max_keep', [1, 2])
def test_kill_during_save_leaves_a_loadable_checkpoint(tmp_path, max_keep):
    _kill_during_save(tmp_path, max_keep, 0.0)
    _check_resumable(tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize('max_keep', [1, 2])
def test_kill_during_save_many_delays(tmp_path, max_keep):
    for i, delay in enumerate([0.0, 0.01, 0.02, 0.04, 0.08, 0.12, 0.16,
                               0.2, 0.25, 0.3]):
        work = tmp_path / f'd{i}'
        _kill_during_save(work, max_keep, delay, nth_save=2 + i % 3)
        _check_resumable(work)


def _write_ckpt(path, it):
    torch.save(dict(meta=dict(iter=it), state_dict={}), str(path))


def test_resume_falls_back_past_a_missing_last_checkpoint(tmp_path):
    _write_ckpt(tmp_path / 'iter_1.pth', 1)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path /
                                                        'iter_1.pth')


def test_resume_finishes_a_complete_temporary_and_removes_partial(tmp_path):
    _write_ckpt(tmp_path / '.iter_3.pth.abc123.tmp', 3)
    (tmp_path / '.iter_4.pth.def456.tmp').write_bytes(b'PK\x03\x04partial')
    assert find_resume_checkpoint(str(tmp_path)) == str(tmp_path /
                                                        'iter_3.pth')
    assert sorted(os.listdir(tmp_path)) == ['iter_3.pth']
    with zipfile.ZipFile(tmp_path / 'iter_3.pth') as zf:
        assert zf.testzip() is None


def test_resume_without_any_complete_checkpoint_fails_loudly(tmp_path):
    from mmengine.config import Config
    (tmp_path / 'iter_2.pth').write_bytes(b'')  # cut off
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    cfg = Config(dict(work_dir=str(tmp_path)))
    with pytest.raises(CheckpointError, match='no complete checkpoint'):
        resolve_resume(cfg, 'auto')
    fresh = Config(dict(work_dir=str(tmp_path / 'fresh')))
    os.makedirs(fresh.work_dir)
    resolve_resume(fresh, 'auto')  # nothing was ever saved: starts over
    assert not fresh.get('resume')


def test_checkpoints_get_the_umask_permissions(tmp_path):
    from mmengine.fileio.backends import LocalBackend
    old = os.umask(0o022)
    try:
        LocalBackend().put(b'x', str(tmp_path / 'a.pth'))
    finally:
        os.umask(old)
    assert (os.stat(tmp_path / 'a.pth').st_mode & 0o777) == 0o644
