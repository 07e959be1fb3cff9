"""Segmentation distillation on the tiny embedded data: the SKD and CWD
configs and what each must log, a random-weight teacher checkpoint, and
the config text that points a config at the data."""
import os.path as osp

import torch
from mmengine.registry import MODELS
from mmengine.runner import Runner

from kdtools.models.distillers.teacher import model_cfg_from
from kdtools.utils import load_config
from conftest import write_config

SKD = 'seg/skd/skd-{}_pspnet-mbv2-d8_to_fcn-r18-base16-d8_2k_toyseg.py'
CONFIGS = {
    'pi': SKD.format('pi'),
    'pi-pa': SKD.format('pi-pa'),
    'pi-pa-ho': SKD.format('pi-pa-ho'),
    'cwd': 'seg/cwd/cwd_pspnet-mbv2-d8_to_fcn-r18-base16-d8_2k_toyseg.py',
}
EXPECTED = {'pi': ['loss_pixel'], 'pi-pa': ['loss_pixel', 'loss_pair'],
            'pi-pa-ho': ['loss_pixel', 'loss_pair', 'loss_holistic'],
            'cwd': ['loss_cwd']}


def seg_body(data_dir, teacher_ckpt, iters=4):
    root = osp.join(data_dir, 'seg') + '/'
    return f"""
data_root = {root!r}
train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(max_iters={iters}, val_interval={iters})
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval={iters}, save_best=None))
model = dict(teacher=dict(checkpoint={teacher_ckpt!r}))
randomness = dict(seed=0)
"""


def make_teacher_ckpt(tmp_path_factory):
    """A random-weight checkpoint of the SKD configs' teacher."""
    cfg = load_config(osp.join(osp.dirname(__file__), '..', '..', 'configs',
                               CONFIGS['pi']))
    teacher = MODELS.build(model_cfg_from(cfg.model.teacher.config, 't'))
    path = str(tmp_path_factory.mktemp('seg_teacher') / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), path)
    return path


def _runner(name, toy_data, teacher_ckpt, tmp_path):
    path = write_config(tmp_path / f'{name}.py', CONFIGS[name],
                        seg_body(toy_data, teacher_ckpt))
    cfg = load_config(path)
    cfg.work_dir = str(tmp_path / 'work')
    return path, cfg, Runner.from_cfg(cfg)
