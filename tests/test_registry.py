"""Registries: kdtools scope, reach into mmdet/mmseg/mmpretrain, scoped
models built with their children in their own scope."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DATASETS as ROOT_DATASETS
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope

from kdtools.registry import DATASETS, HOOKS, MODELS
from kdtools.utils import resolve_scopes
from conftest import CONFIGS


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


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
def test_kdtools_types_resolve_from_any_default_scope(scope):
    """A config that inherits a stock mmdet/mmseg/mmpretrain config runs in
    that library's scope; kdtools' own types must still resolve bare."""
    from mmengine.registry import HOOKS as ROOT_HOOKS
    from mmengine.registry import \
        OPTIM_WRAPPER_CONSTRUCTORS as ROOT_CONSTRUCTORS

    from kdtools.datasets import ToyDetDataset
    from kdtools.engine import (DistillerOptimWrapperConstructor,
                                TeacherEvalHook)
    from kdtools.models import Distiller, FeatureImitationLoss, ModuleOutputs
    for root, name, cls in [
            (ROOT_MODELS, 'Distiller', Distiller),
            (ROOT_MODELS, 'FeatureImitationLoss', FeatureImitationLoss),
            (ROOT_MODELS, 'ModuleOutputs', ModuleOutputs),
            (ROOT_HOOKS, 'TeacherEvalHook', TeacherEvalHook),
            (ROOT_CONSTRUCTORS, 'DistillerOptimWrapperConstructor',
             DistillerOptimWrapperConstructor),
            (ROOT_DATASETS, 'ToyDetDataset', ToyDetDataset)]:
        with root.switch_scope_and_registry(scope) as registry:
            assert registry.scope == scope
            assert registry.get(name) is cls, (scope, name)
    with DefaultScope.overwrite_default_scope(scope):
        hook = ROOT_HOOKS.build(dict(type='TeacherEvalHook'))
        loss = ROOT_MODELS.build(dict(type='FeatureImitationLoss'))
    assert type(hook) is TeacherEvalHook
    assert type(loss) is FeatureImitationLoss


def test_plain_mmengine_builds_scoped_type_children_in_its_library():
    """``type='mmdet.GFL'`` built by plain mmengine (no resolve_scopes) in
    kdtools' scope: mmdet's code then builds bare names (GFLHead's default
    ``DistancePointBBoxCoder``, the config's ``AnchorGenerator``) in the
    default scope, kdtools'; they resolve in mmdet, the library asking."""
    from mmdet.models.task_modules import (AnchorGenerator,
                                           DistancePointBBoxCoder)
    cfg = Config.fromfile(osp.join(CONFIGS, '_base_/models/gfl_r18_fpn.py'))
    assert '_scope_' not in cfg.model
    with DefaultScope.overwrite_default_scope('kdtools'):
        model = ROOT_MODELS.build(cfg.model)
    assert type(model.bbox_head.bbox_coder) is DistancePointBBoxCoder
    assert type(model.bbox_head.prior_generator) is AnchorGenerator


def test_bare_name_in_kdtools_scope_takes_the_asking_librarys_type():
    """mmcv's ``LoadAnnotations`` (in mmengine's root) and mmdet's share a
    name: inside an mmdet dataset built in kdtools' scope, mmdet's."""
    from mmdet.datasets.transforms import LoadAnnotations
    with DefaultScope.overwrite_default_scope('kdtools'):
        ds = ROOT_DATASETS.build(dict(
            type='mmdet.CocoDataset', lazy_init=True, ann_file='x.json',
            pipeline=[dict(type='LoadAnnotations', with_bbox=True)]))
    assert type(ds.pipeline.transforms[0]) is LoadAnnotations


def test_bare_name_of_one_library_resolves_from_kdtools_scope():
    from mmdet.models.detectors import RetinaNet
    with ROOT_MODELS.switch_scope_and_registry('kdtools') as registry:
        assert registry.get('RetinaNet') is RetinaNet
        assert 'RetinaNet' in registry and 'NoSuchThing' not in registry


def test_unresolvable_names_say_which_prefix_fixes_them():
    with ROOT_MODELS.switch_scope_and_registry('kdtools') as registry:
        # ResNet is mmdet's, mmseg's and mmpretrain's: which one is meant?
        with pytest.raises(KeyError) as e:
            registry.get('ResNet')
        msg = str(e.value)
        assert all(f'{s}.ResNet' in msg for s in ('mmdet', 'mmseg',
                                                   'mmpretrain'))
        with pytest.raises(KeyError, match='NoSuchThing.*no registry of models'):
            registry.get('NoSuchThing')


def test_explicit_kdtools_prefix_asks_kdtools_only():
    from kdtools.models import Distiller
    with ROOT_MODELS.switch_scope_and_registry('mmdet') as registry:
        assert registry.get('kdtools.Distiller') is Distiller
        with pytest.raises(KeyError, match="kdtools has no model 'GFL'.*"
                           "'mmdet.GFL'"):
            registry.get('kdtools.GFL')
