"""tools/dist_train.sh: two processes on CPU (gloo), a plain model and a
distillation."""
import os
import subprocess
import sys

from conftest import ROOT, tiny_det_body, write_config

STUDENT = 'det/gfl_r18-base16_fpn_12e_toydet.py'


def test_dist_train_two_processes_gloo(toy_data, tmp_path):
    cfg = write_config(tmp_path / 'det.py', STUDENT,
                       tiny_det_body(toy_data, max_epochs=1))
    work = tmp_path / 'work'
    env = dict(os.environ, PYTHON=sys.executable, PORT='29531',
               OMP_NUM_THREADS='1')
    res = subprocess.run(
        ['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', str(work),
         '--dist-timeout', '120'],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    assert 'gloo' in log.lower() or 'world_size: 2' in log.lower() or \
        'distributed: true' in log.lower()
    assert (work / 'epoch_1.pth').exists()
    # --dist-timeout reached the ranks' config (the CPU default is 300 s)
    from mmengine.config import Config
    dumped = Config.fromfile(str(work / 'det.py'))
    assert dumped.env_cfg.dist_cfg.timeout == 120
    assert dumped.env_cfg.dist_cfg.backend == 'gloo'


def test_dist_distillation_two_processes_gloo(distill_cfg, tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, PORT='29533',
               OMP_NUM_THREADS='1')
    work = tmp_path / 'work'
    res = subprocess.run(
        ['bash', 'tools/dist_train.sh', distill_cfg, '2', '--work-dir',
         str(work), '--cfg-options', 'train_cfg.max_epochs=1'],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    assert (work / 'epoch_1.pth').exists()
