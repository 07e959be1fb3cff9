"""A 2-process gloo run of the toy SSD-KD config through
tools/dist_train.sh with ``randomness=dict(seed=0, diff_rank_seed=True)``
completes; each rank synthesises different images (its own buffer) while
the student's weights stay identical across ranks (DDP averages the
student's gradients)."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.registry import MODELS

from kdtools.models.distillers.teacher import model_cfg_from
from conftest import CONFIGS, ROOT, write_config

CFG = 'datafree/ssd-kd_resnet32-cifar_to_resnet14-cifar_toycls.py'
RANK_HOOK = '''
import hashlib
import os

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def _digest(tensors):
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@HOOKS.register_module()
class RankBufferHook(Hook):
    """After every step, each rank appends its buffer's and its student's
    digests to work_dir/rank<r>.txt."""

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        model = getattr(runner.model, 'module', runner.model)
        student = getattr(model.student, 'module', model.student)
        n = len(model.buffer)
        params = [p for _, p in sorted(student.named_parameters())]
        with open(os.path.join(runner.work_dir,
                               f'rank{runner.rank}.txt'), 'a') as f:
            f.write(f'{runner.iter} {n} {_digest([model.buffer.images[:n]])}'
                    f' {_digest(params)}\\n')
'''


@pytest.mark.slow
def test_two_ranks_different_samples(toy_data, tmp_path):
    torch.manual_seed(0)
    teacher = MODELS.build(model_cfg_from(
        osp.join(CONFIGS, 'cls/resnet32-cifar_10e_toycls.py'), 'teacher'))
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    root = osp.join(toy_data, 'cls') + '/'
    (tmp_path / 'rank_buffer_hook.py').write_text(RANK_HOOK)
    body = f"""
model = dict(teacher=dict(checkpoint={ckpt!r}), budget=8,
             generator=dict(nz=16, ngf=8),
             synthesis=dict(batch_size=4, inner_steps=1, rounds=None),
             distill=dict(batch_size=4))
val_dataloader = dict(batch_size=8, dataset=dict(data_root={root!r}))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=3, val_interval=100)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=100, save_best=None))
randomness = dict(seed=0, diff_rank_seed=True)
custom_imports = dict(imports=['rank_buffer_hook'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='RankBufferHook'),
                dict(type='DataFreeVisualizationHook', vis_interval=1)]
"""
    cfg = write_config(tmp_path / 'datafree_dist.py', CFG, body)
    work = tmp_path / 'work'
    env = dict(os.environ, PYTHON=sys.executable, PORT='29561',
               OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join(
                   [str(tmp_path), os.environ.get('PYTHONPATH', '')]))
    res = subprocess.run(
        ['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', str(work)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    ranks = [[line.split() for line in
              (work / f'rank{r}.txt').read_text().splitlines()]
             for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 3
    # R = 2 rounds, 1 warm-up: 4 images after iteration 1, 8 after 2
    assert [int(r[1]) for r in ranks[0]] == [4, 8, 8]
    for a, b in zip(*ranks):
        assert a[1] == b[1] and a[2] != b[2]  # same count, other images
        assert a[3] == b[3]  # the student in step
    # only rank 0 writes the buffer grids
    pngs = list(work.glob('*/vis_data/vis_image/datafree_buffer_*.png'))
    assert sorted(p.name for p in pngs) == ['datafree_buffer_1.png',
                                            'datafree_buffer_2.png']
