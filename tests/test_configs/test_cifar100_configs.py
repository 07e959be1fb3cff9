"""The CIFAR-100 configs (seed notes 000 and 001): no CIFAR-100 here, so
each trains one step on a synthetic batch of its input size."""
import os.path as osp

import pytest
import torch
from mmengine.registry import MODELS

from kdtools.models.distillers.teacher import model_cfg_from
from kdtools.utils import load_config
from _helpers.cls import ROOT

CIFAR100 = sorted(
    osp.relpath(p, ROOT) for p in __import__('glob').glob(
        osp.join(ROOT, 'cls', 'cifar100', '*_to_*.py')))


def test_cifar100_configs_are_listed():
    assert len(CIFAR100) == 5, CIFAR100


@pytest.mark.parametrize('path', CIFAR100)
def test_cifar100_config_trains_a_synthetic_step(path, tmp_path):
    from mmengine.optim import OptimWrapper
    from mmpretrain.structures import DataSample
    cfg = load_config(osp.join(ROOT, path))
    teachers = cfg.model.get('teachers') or {'teacher': cfg.model.teacher}
    for name, t in teachers.items():
        model = MODELS.build(model_cfg_from(t.config, name))
        ckpt = str(tmp_path / f'{name}.pth')
        torch.save(dict(state_dict=model.state_dict()), ckpt)
        t.checkpoint = ckpt
    if cfg.model.get('teacher') is not None:
        cfg.model.teacher = teachers['teacher']
    model = MODELS.build(cfg.model)
    size = cfg.model.input_shape[-1]
    batch = dict(
        inputs=[torch.randint(0, 255, (3, size, size), dtype=torch.uint8)
                for _ in range(2)],
        data_samples=[DataSample().set_gt_label(i) for i in (3, 97)])
    model.train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    log = model.train_step(batch, optim)
    distill = [k for k in log if k.startswith('distill.')]
    assert distill and all(torch.isfinite(log[k]) for k in distill)
    model.eval()
    assert model.test_step(batch)[0].pred_score.shape == (100, )
