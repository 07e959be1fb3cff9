"""The Fashion-MNIST configs (configs/cls/fashion-mnist/): listed, and
every teacher and student config trains a step on idx files."""
import os.path as osp
from glob import glob

import pytest
import torch
from mmengine.runner import Runner

from kdtools.utils import load_config
from conftest import write_config
from _helpers.cls import CONFIGS, ROOT, data_body

FMNIST_MODELS = sorted(
    osp.relpath(p, ROOT) for p in glob(
        osp.join(ROOT, 'cls', 'fashion-mnist', '*_10e_fashion-mnist.py'))
    if '_to_' not in p)


def test_fashion_mnist_configs_are_listed():
    assert len(FMNIST_MODELS) == 6, FMNIST_MODELS
    assert len([n for n in CONFIGS if n.startswith('fmnist')]) == 6


@pytest.mark.parametrize('config', FMNIST_MODELS)
def test_fashion_mnist_model_trains_a_step_on_idx_files(config, fmnist_data,
                                                        tmp_path):
    """mmpretrain's FashionMNIST reads the idx folder; the 28-px grey images
    reach the model as 1x32x32 and every teacher and student config trains
    a step and predicts 10 classes."""
    path = write_config(tmp_path / 'cfg.py', config, data_body(
        fmnist_data, config) + "param_scheduler = [dict(type='ConstantLR', "
        "factor=1.0, by_epoch=False)]\n")
    cfg = load_config(path)
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    assert len(runner.train_dataloader.dataset) == 16
    assert len(runner.val_dataloader.dataset) == 8
    batch = next(iter(runner.train_dataloader))
    assert batch['inputs'][0].shape == (1, 32, 32)
    optim = runner.build_optim_wrapper(cfg.optim_wrapper)
    runner.model.train()
    log = runner.model.train_step(batch, optim)
    assert all(torch.isfinite(v) for v in log.values())
    runner.model.eval()
    test_batch = next(iter(runner.val_dataloader))
    preds = runner.model.test_step(test_batch)
    assert [p.pred_score.shape for p in preds] == [(10, )] * 4
    assert [int(p.gt_label) for p in preds] == [0, 1, 2, 3]
