"""Registries: kdtools scope, reach into mmdet/mmseg/mmpretrain, and config
inheritance from package and local configs."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DATASETS as ROOT_DATASETS
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope

from kdtools.registry import DATASETS, HOOKS, MODELS
from kdtools.utils import ConfigError, load_config, resolve_scopes
from conftest import CONFIGS, write_config


def test_kdtools_registries_are_children_of_mmengine_roots():
    assert MODELS.scope == 'kdtools' and MODELS.parent is ROOT_MODELS
    assert DATASETS.parent is ROOT_DATASETS
    assert ROOT_MODELS._children['kdtools'] is MODELS
    assert HOOKS.scope == 'kdtools'


def test_default_scope_is_kdtools():
    assert DefaultScope.get_current_instance().scope_name == 'kdtools'


@pytest.mark.parametrize('name, module', [
    ('mmdet.GFL', 'mmdet.models.detectors.gfl'),
    ('mmdet.FasterRCNN', 'mmdet.models.detectors.faster_rcnn'),
    ('mmseg.EncoderDecoder', 'mmseg.models.segmentors.encoder_decoder'),
    ('mmpretrain.ImageClassifier', 'mmpretrain.models.classifiers.image'),
])
def test_scoped_names_reach_mmlab_types(name, module):
    cls = MODELS.get(name)
    assert cls is not None and cls.__module__ == module


def test_bare_names_reach_kdtools_types():
    from kdtools.datasets import ToyDetDataset, ToySegDataset
    assert DATASETS.get('ToyDetDataset') is ToyDetDataset
    assert DATASETS.get('ToySegDataset') is ToySegDataset
    # and through the root under the default scope, as the Runner does
    with ROOT_DATASETS.switch_scope_and_registry(None) as registry:
        assert registry.get('ToyDetDataset') is ToyDetDataset


def test_scoped_model_builds_children_in_its_scope():
    cfg = Config.fromfile(osp.join(CONFIGS, '_base_/models/gfl_r18-base16_fpn.py'))
    model_cfg = resolve_scopes(cfg.model)
    assert model_cfg['_scope_'] == 'mmdet'
    model = ROOT_MODELS.build(model_cfg)
    from mmdet.models.backbones import ResNet
    from mmdet.models.detectors import GFL
    assert type(model) is GFL and type(model.backbone) is ResNet
    # the children really are mmdet's, not another library's same-named ones
    assert type(model.bbox_head).__module__ == 'mmdet.models.dense_heads.gfl_head'


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
