"""Adapters from the recorded shapes, and inputs a loss compares refused,
naming both sides and their shapes, when they differ (channels, size, class
counts; a classification teacher with other classes too)."""
import pytest
import torch
from mmengine.registry import MODELS

from kdtools.models.distillers.teacher import model_cfg_from
from kdtools.utils import ConfigError, load_config
from conftest import write_config
from _helpers.cls import CONFIGS, cls_body
from _helpers.det import build, distiller_cfg, make_teacher_ckpt


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """A random-weight GFL (MobileNetV2) teacher checkpoint."""
    return make_teacher_ckpt(tmp_path_factory)


def test_adapters_inferred_channels(teacher_ckpt):
    model = build(teacher_ckpt)
    conv = model.adapters['loss_hint_p3']['teacher'].conv
    assert (conv.in_channels, conv.out_channels) == (64, 128)


def test_shape_mismatch_shows_both_shapes(teacher_ckpt):
    cfg = distiller_cfg(teacher_ckpt)
    cfg['distill_losses']['loss_hint_p3']['inputs']['preds_T'] = \
        'teacher.fpn.1'
    cfg['distill_losses']['loss_hint_p3']['adapter'] = dict(
        type='ConvAdapter', align='none')
    with pytest.raises(ConfigError) as e:
        MODELS.build(cfg)
    msg = str(e.value)
    assert 'student.fpn.0' in msg and 'teacher.fpn.1' in msg
    assert '(1, 64, 16, 16)' in msg and '(1, 128, 8, 8)' in msg


def test_class_count_mismatch_names_both_sides(teacher_ckpt):
    cfg = distiller_cfg(teacher_ckpt)
    cfg['student']['bbox_head']['num_classes'] = 5
    cfg['student_recorders'] = dict(cls='bbox_head.gfl_cls')
    cfg['teacher_recorders'] = dict(cls='bbox_head.gfl_cls')
    cfg['distill_losses'] = dict(loss_cls_kd=dict(
        type='FeatureImitationLoss',
        inputs=dict(preds_S=dict(ref='student.cls', call=0),
                    preds_T=dict(ref='teacher.cls', call=0))))
    with pytest.raises(ConfigError) as e:
        MODELS.build(cfg)
    msg = str(e.value)
    assert '(1, 5, 16, 16)' in msg and '(1, 10, 16, 16)' in msg
    assert 'class counts' in msg and 'loss_cls_kd' in msg


def test_teacher_class_count_mismatch_is_refused(toy_data, teacher_ckpts,
                                                 tmp_path):
    seven = dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18,
                      base_channels=8, stem_channels=8),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=7,
                  in_channels=64))
    ckpt = str(tmp_path / 'seven.pth')
    torch.save(dict(state_dict=MODELS.build(
        model_cfg_from(seven, 't')).state_dict()), ckpt)
    body = cls_body(toy_data, CONFIGS['deit-soft-1'], teacher_ckpts)
    body += (f"model.update(teachers=dict(cnn=dict(config=dict(_delete_=True,"
             f" **{seven!r}), checkpoint={ckpt!r})))\n")
    path = write_config(tmp_path / 'bad.py', CONFIGS['deit-soft-1'], body)
    with pytest.raises(ConfigError, match=r'\(1, 10\).*\(1, 7\)'):
        MODELS.build(load_config(path).model)
