"""RandomStateHook: a run resumed from an epoch checkpoint augments as the
uninterrupted run did (random flips in the main process), so its losses are
the same (issue 21)."""
import json
import glob
import os.path as osp

import pytest

from conftest import PLAIN_DET_PIPELINE, run_tool, tiny_det_body, write_config

STUDENT = 'det/gfl_r18-base16_fpn_12e_toydet.py'
FLIP_PIPELINE = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True),
    dict(type='mmdet.Resize', scale=(128, 128), keep_ratio=True),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='mmdet.PackDetInputs')
]


def _losses(work_dir):
    out = {}
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data',
                                   'scalars.json')):
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if 'loss' in r and 'iter' in r:
                    out[r['iter']] = r['loss']
    return out


def test_resume_repeats_random_augmentation(toy_data, tmp_path):
    body = tiny_det_body(toy_data, max_epochs=2).replace(
        repr(PLAIN_DET_PIPELINE), repr(FLIP_PIPELINE))
    assert 'RandomFlip' in body
    cfg = write_config(tmp_path / 'flip.py', STUDENT, body)
    full, part = tmp_path / 'full', tmp_path / 'part'
    run_tool(['tools/train.py', cfg, '--work-dir', str(full)], check=True)
    run_tool(['tools/train.py', cfg, '--work-dir', str(part),
              '--cfg-options', 'train_cfg.max_epochs=1'], check=True)
    run_tool(['tools/train.py', cfg, '--work-dir', str(part), '--resume'],
             check=True)
    a, b = _losses(full), _losses(part)
    assert sorted(a) == sorted(b) and len(a) == 8
    for it in a:
        assert a[it] == pytest.approx(b[it], rel=1e-6, abs=1e-7), it
