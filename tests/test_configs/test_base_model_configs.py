"""Every plain (teacher or student) model config builds; classification
models predict their class count."""
import os.path as osp

import pytest
from mmengine.registry import MODELS as ROOT_MODELS

from kdtools.utils import load_config
from conftest import CONFIGS


@pytest.mark.parametrize('config', [
    'det/gfl_mobilenetv2_fpn_12e_toydet.py', 'det/gfl_r18-base16_fpn_12e_toydet.py',
    'seg/pspnet_mobilenetv2-d8_8k_toyseg.py', 'seg/fcn_r18-base16-d8_2k_toyseg.py',
    'cls/resnet18-base32_10e_toycls.py', 'cls/vit-tiny-p4_10e_toycls.py',
    'cls/vit-small-p4_10e_toycls.py', 'cls/deit-tiny-p4_10e_toycls.py',
    'cls/resnet32-cifar_10e_toycls.py', 'cls/resnet14-cifar_10e_toycls.py',
    'cls/cifar100/resnet50_8xb8_cifar100-224px.py',
    'cls/cifar100/deit-small_8xb8_cifar100-224px.py',
    'cls/cifar100/deit-small-distilled_8xb8_cifar100-224px.py',
    'cls/cifar100/resnet32-cifar_8xb16_cifar100.py',
    'cls/cifar100/resnet14-cifar_8xb16_cifar100.py',
])
def test_every_base_model_config_builds(config):
    cfg = load_config(osp.join(CONFIGS, config))
    model = ROOT_MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    if config.startswith('cls/'):
        import torch
        size = 224 if '224px' in config else 32
        model.eval()
        with torch.no_grad():
            out = model(torch.zeros(1, 3, size, size), mode='tensor')
        assert out.shape == (1, 100 if 'cifar100' in config else 10)
