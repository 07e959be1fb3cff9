"""The data-free distiller built from a shipped configs/datafree config at
tiny sizes, with a random-weight teacher checkpoint, and its optimizer
wrappers (the data-free distiller's tests)."""
import copy
import glob
import os.path as osp

import torch
from mmengine.registry import MODELS

from kdtools.models.distillers.teacher import model_cfg_from
from kdtools.registry import OPTIM_WRAPPER_CONSTRUCTORS
from kdtools.utils import load_config

ROOT = osp.join(osp.dirname(__file__), '..', '..')
DATAFREE_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'datafree',
                                             '*.py')))
TOY = osp.join(ROOT, 'configs', 'datafree',
               'ssd-kd_resnet32-cifar_to_resnet14-cifar_toycls.py')
FAST = osp.join(ROOT, 'configs', 'datafree',
                'fast2_resnet32-cifar_to_resnet14-cifar_toycls.py')
TINY = dict(budget=16,
            synthesis=dict(batch_size=4, inner_steps=2),
            distill=dict(batch_size=4))


def teacher_ckpt(teacher_cfg, tmp_path, name='teacher.pth'):
    """A random teacher (seed 1) saved as a checkpoint."""
    torch.manual_seed(1)
    model = MODELS.build(model_cfg_from(teacher_cfg, 'teacher'))
    path = str(tmp_path / name)
    torch.save(dict(state_dict=model.state_dict()), path)
    return path


def model_cfg(cfg_path, tmp_path, **override):
    """The config and its ``model`` dict at ``TINY`` sizes, ``override``
    merged one level deep; ``ceil(budget / batch)`` synthesis rounds
    unless ``override`` sets ``synthesis.rounds``."""
    cfg = load_config(cfg_path)
    model = copy.deepcopy(cfg.model.to_dict())
    model['teacher']['checkpoint'] = teacher_ckpt(
        model['teacher']['config'], tmp_path)
    for key, value in {**TINY, **override}.items():
        if isinstance(value, dict) and isinstance(model.get(key), dict):
            model[key].update(value)
        else:
            model[key] = value
    # tiny budgets: ceil(budget / batch) rounds unless the test sets them
    model['synthesis'].setdefault('rounds', None)
    if 'rounds' not in override.get('synthesis', {}):
        model['synthesis']['rounds'] = None
    return cfg, model


def build(cfg_path, tmp_path, **override):
    """The distiller and its optimizer wrappers."""
    cfg, cfg_model = model_cfg(cfg_path, tmp_path, **override)
    model = MODELS.build(cfg_model)
    ctor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type=cfg.optim_wrapper['constructor'],
        optim_wrapper_cfg={k: v for k, v in cfg.optim_wrapper.items()
                           if k != 'constructor'}))
    return model, ctor(model)
