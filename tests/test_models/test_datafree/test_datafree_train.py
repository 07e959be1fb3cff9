"""A data-free run through tools/train.py (no training data; the val split
only): resumed from its iteration-4 checkpoint it logs the uninterrupted
run's losses and ends with the same buffer, priorities, counters,
BN-momentum state and generator; the checkpoint holds no teacher and its
student loads strictly into the plain mmpretrain model."""
import json
import os
import os.path as osp

import pytest
import torch
from mmengine.registry import MODELS

from kdtools.models.distillers.teacher import _plain_state_dict, \
    model_cfg_from
from kdtools.utils import load_config
from conftest import CONFIGS, run_tool, write_config

CFG = 'datafree/ssd-kd_resnet32-cifar_to_resnet14-cifar_toycls.py'


def _losses(work_dir):
    out = {}
    for dirpath, _, files in os.walk(work_dir):
        if 'scalars.json' in files:
            with open(osp.join(dirpath, 'scalars.json')) as f:
                for line in f:
                    rec = json.loads(line)
                    if 'loss' in rec:
                        out[rec['iter']] = rec['loss']
    return out


@pytest.fixture(scope='module')
def tiny_cfg(toy_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('datafree')
    torch.manual_seed(0)
    teacher = MODELS.build(model_cfg_from(
        osp.join(CONFIGS, 'cls/resnet32-cifar_10e_toycls.py'), 'teacher'))
    ckpt = str(tmp / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    root = osp.join(toy_data, 'cls') + '/'
    body = f"""
model = dict(teacher=dict(checkpoint={ckpt!r}), budget=12,
             generator=dict(nz=16, ngf=8),
             synthesis=dict(batch_size=4, inner_steps=2, rounds=None),
             distill=dict(batch_size=4))
val_dataloader = dict(batch_size=8, dataset=dict(data_root={root!r}))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=8, val_interval=100)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=4, save_best=None))
log_processor = dict(window_size=1)
randomness = dict(seed=0)
"""
    return write_config(tmp / 'datafree_tiny.py', CFG, body), tmp


def test_resume_continues_exactly(tiny_cfg):
    cfg, tmp = tiny_cfg
    full, part = tmp / 'full', tmp / 'part'
    run_tool(['tools/train.py', cfg, '--work-dir', str(full)], check=True)
    run_tool(['tools/train.py', cfg, '--work-dir', str(part), '--resume',
              str(full / 'iter_4.pth')], check=True)
    a, b = _losses(full), _losses(part)
    # R = 3 rounds, 1 warm-up: distillation from iteration 2 on
    assert sorted(a) == list(range(2, 9)) and sorted(b) == [5, 6, 7, 8]
    for it in b:
        assert a[it] == pytest.approx(b[it], rel=1e-5, abs=1e-7), it
    sa = torch.load(str(full / 'iter_8.pth'), weights_only=False)
    sb = torch.load(str(part / 'iter_8.pth'), weights_only=False)
    sa, sb = sa['state_dict'], sb['state_dict']
    assert not any(k.startswith('teacher') for k in sa)
    assert int(sa['rounds_done']) == 3 and int(sa['synthesised']) == 12
    for k in sa:
        if k in ('synthesis_time', 'distill_time'):
            continue
        assert torch.allclose(sa[k].double(), sb[k].double(), rtol=1e-5,
                              atol=1e-7), k
    assert (sa['buffer.priorities'][:12] != 1.0).any()  # refreshed

    # the student inside loads strictly into the plain mmpretrain model
    student = MODELS.build(load_config(osp.join(
        CONFIGS, 'cls/resnet14-cifar_10e_toycls.py')).model)
    student.load_state_dict(_plain_state_dict(dict(state_dict=sa)),
                            strict=True)
