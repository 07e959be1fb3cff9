"""Runner helpers: resuming skips incomplete checkpoints."""
import os
import os.path as osp

from _helpers.checkpoints import _mmengine_style_checkpoint


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
