"""Classification distillation on the tiny embedded data and on
Fashion-MNIST idx files: the configs under test and what each must log,
random-weight teacher checkpoints, and the config text that points a
config at the data."""
import os.path as osp
import struct

import numpy as np
import torch
from mmengine.registry import MODELS
from mmengine.runner import Runner

from kdtools.models.distillers.teacher import model_cfg_from
from kdtools.utils import load_config
from conftest import write_config

DEIT = 'cls/deit/deit-{}_to_deit-tiny-p4_10e_toycls.py'
CONFIGS = {
    'kd': 'cls/kd/kd_resnet18-base32_to_vit-tiny-p4_10e_toycls.py',
    'deit-soft-1': DEIT.format('soft_resnet18-base32'),
    'deit-hard-1': DEIT.format('hard_resnet18-base32'),
    'deit-soft-2': DEIT.format('soft_resnet18-base32-and-vit-small-p4'),
    'deit-hard-2': DEIT.format('hard_resnet18-base32-and-vit-small-p4'),
    'fsp': 'cls/fsp/fsp_resnet32-cifar_to_resnet14-cifar_10e_toycls.py',
}
EXPECTED = {'kd': 'loss_kd', 'deit-soft-1': 'loss_deit',
            'deit-hard-1': 'loss_deit', 'deit-soft-2': 'loss_deit',
            'deit-hard-2': 'loss_deit', 'fsp': 'loss_fsp_stage1'}
# the same methods on Fashion-MNIST (configs/cls/fashion-mnist/)
for _name, _path in list(CONFIGS.items()):
    CONFIGS[f'fmnist-{_name}'] = _path.replace(
        f'cls/{_name.split("-")[0]}/', 'cls/fashion-mnist/').replace(
        'toycls', 'fashion-mnist')
    EXPECTED[f'fmnist-{_name}'] = EXPECTED[_name]
# Hinton KD between the CNNs (the data-free benchmark's real-data row)
CONFIGS['kd-r14'] = ('cls/kd/kd_resnet32-cifar_to_resnet14-cifar_10e_'
                     'toycls.py')
EXPECTED['kd-r14'] = 'loss_kd'
ROOT = osp.join(osp.dirname(__file__), '..', '..', 'configs')


def _write_idx(folder, prefix, n, rng):
    """``n`` random 28x28 images and labels ``i % 10`` in the idx format
    of the Fashion-MNIST distribution (big-endian magic and sizes)."""
    imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    with open(folder / f'{prefix}-images-idx3-ubyte', 'wb') as f:
        f.write(struct.pack('>IIII', 2051, n, 28, 28) + imgs.tobytes())
    labels = (np.arange(n) % 10).astype(np.uint8)
    with open(folder / f'{prefix}-labels-idx1-ubyte', 'wb') as f:
        f.write(struct.pack('>II', 2049, n) + labels.tobytes())


def make_fmnist_data(tmp_path_factory):
    """A Fashion-MNIST folder in the layout `make data-fashion-mnist`
    writes (the four un-gzipped idx files), 16 training and 8 test images."""
    out = tmp_path_factory.mktemp('fashion-mnist')
    rng = np.random.default_rng(0)
    _write_idx(out, 'train', 16, rng)
    _write_idx(out, 't10k', 8, rng)
    return str(out) + '/'


def data_body(data_dir, cfg_path):
    """Point a config's loaders at the tiny embedded or Fashion-MNIST
    data, batch 4, in-process loading."""
    if 'fashion-mnist' in cfg_path:
        root, prefix = data_dir, ''
    else:
        root, prefix = osp.join(data_dir, 'cls') + '/', None
    ds = f'dict(data_root={root!r})' if prefix is None else \
        f'dict(data_root={root!r}, data_prefix={prefix!r})'
    return f"""
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset={ds})
val_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                      dataset={ds})
test_dataloader = val_dataloader
"""


def make_teacher_ckpts(tmp_path_factory):
    """Random-weight checkpoints for every teacher the configs name."""
    out = {}
    for name in CONFIGS:
        cfg = load_config(osp.join(ROOT, CONFIGS[name]))
        teachers = cfg.model.get('teachers') or dict(
            teacher=cfg.model.teacher)
        for t_name, t in teachers.items():
            key = osp.basename(t.config)
            if key in out:
                continue
            model = MODELS.build(model_cfg_from(t.config, t_name))
            path = str(tmp_path_factory.mktemp('cls_teacher') / f'{key}.pth')
            torch.save(dict(state_dict=model.state_dict()), path)
            out[key] = path
    return out


def cls_body(data_dir, cfg_path, ckpts, max_epochs=1, extra=''):
    cfg = load_config(osp.join(ROOT, cfg_path))
    teachers = cfg.model.get('teachers')
    if teachers:
        override = 'teachers=dict(' + ', '.join(
            f'{n}=dict(checkpoint={ckpts[osp.basename(t.config)]!r})'
            for n, t in teachers.items()) + ')'
    else:
        override = 'teacher=dict(checkpoint=' \
            f'{ckpts[osp.basename(cfg.model.teacher.config)]!r})'
    return data_body(data_dir, cfg_path) + f"""
train_cfg = dict(max_epochs={max_epochs}, val_interval=100)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, save_best=None))
model = dict({override})
randomness = dict(seed=0)
{extra}
"""


def _runner(name, toy_data, ckpts, tmp_path, **kw):
    path = write_config(tmp_path / f'{name}.py', CONFIGS[name],
                        cls_body(toy_data, CONFIGS[name], ckpts, **kw))
    cfg = load_config(path)
    cfg.work_dir = str(tmp_path / 'work')
    return path, cfg, Runner.from_cfg(cfg)
