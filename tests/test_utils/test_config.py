"""Configs: scopes resolved, inheritance from package (``mmdet::``) and
local configs, a missing config as a one-line error."""
import os.path as osp

import pytest

from kdtools.utils import ConfigError, load_config, resolve_scopes
from conftest import CONFIGS, write_config


def test_resolve_scopes_leaves_explicit_scope_and_unknown_prefixes():
    cfg = dict(type='mmdet.GFL', _scope_='mmseg',
               child=dict(type='my.Thing'), items=[dict(type='mmseg.X')])
    resolve_scopes(cfg)
    assert cfg['_scope_'] == 'mmseg'
    assert '_scope_' not in cfg['child']
    assert cfg['items'][0] == dict(type='X', _scope_='mmseg')


def test_inherit_from_mmdet_package_config(tmp_path):
    path = write_config(
        tmp_path / 'cfg.py', '_base_/models/gfl_r18_fpn.py',
        extra_bases=[osp.join(CONFIGS, '_base_/datasets/toy_det.py'),
                     'mmdet::_base_/schedules/schedule_1x.py',
                     'mmdet::_base_/default_runtime.py'],
        body="default_scope = 'kdtools'")
    cfg = load_config(path)
    # from mmdet's schedule_1x.py, resolved in mmdet's scope
    assert cfg.train_cfg.max_epochs == 12
    assert cfg.param_scheduler[1].milestones == [8, 11]
    assert cfg.optim_wrapper.optimizer.type == 'SGD'
    assert cfg.model.type == 'GFL' and cfg.model._scope_ == 'mmdet'
    assert cfg.default_scope == 'kdtools'


def test_package_config_directly():
    cfg = load_config('mmdet::gfl/gfl_r50_fpn_1x_coco.py')
    assert cfg.model.type == 'GFL' and cfg.model.backbone.depth == 50


def test_inherit_from_local_file(tmp_path):
    path = write_config(tmp_path / 'student.py',
                        'det/gfl_r18-base16_fpn_12e_toydet.py',
                        body='model = dict(bbox_head=dict(num_classes=3))')
    cfg = load_config(path, cfg_options={'train_cfg.max_epochs': 1})
    assert cfg.model.bbox_head.num_classes == 3
    assert cfg.model.backbone.base_channels == 16
    assert cfg.train_cfg.max_epochs == 1
    assert cfg.default_scope == 'kdtools'


def test_missing_config_is_one_line_error(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(str(tmp_path / 'nope.py'))
    assert 'nope.py' in str(e.value) and 'does not exist' in str(e.value)
    assert '\n' not in str(e.value)
