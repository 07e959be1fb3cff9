"""Each teacher sees the input its checkpoint was trained for: its own
data preprocessor (caffe-style here: BGR, other mean/std) on the same raw
batch, padded to the student's batch shape; the student's tensor reused
when the two preprocessors are identical; predict stays the student's."""
import copy

import pytest
import torch

from kdtools.models.distillers.teacher import model_cfg_from
from kdtools.utils import ConfigError, load_config
from _helpers.det import TEACHER, batch, build, make_teacher_ckpt

CAFFE = dict(type='mmdet.DetDataPreprocessor', mean=[103.53, 116.28, 123.675],
             std=[1.0, 1.0, 1.0], bgr_to_rgb=False, pad_size_divisor=32)


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    return make_teacher_ckpt(tmp_path_factory)


def _build(ckpt, **pp):
    model = model_cfg_from(load_config(TEACHER), 'teacher')
    model['data_preprocessor'] = dict(CAFFE, **pp)
    return build(ckpt, teacher=dict(config=model, checkpoint=ckpt))


@pytest.mark.parametrize('divisor,size', [(32, 64), (64, 80), (1, 72)])
def test_teacher_features_are_those_on_its_own_preprocessing(
        teacher_ckpt, divisor, size):
    model = _build(teacher_ckpt, pad_size_divisor=divisor)
    model.eval()
    (teacher, ) = model.teacher_models.values()
    raw = batch(size=size)
    data = model.data_preprocessor(copy.deepcopy(raw), True)
    s_shape = data['inputs'].shape[-2:]
    assert tuple(s_shape) == (-(-size // 32) * 32, ) * 2
    with torch.no_grad():
        model.loss(**data)
        recorded = model.teacher_recorders['teacher']['fpn'].get()
        # the teacher alone, on its own preprocessing of the raw batch
        own = teacher.data_preprocessor(copy.deepcopy(raw), True)['inputs']
        assert not torch.allclose(own[..., :size, :size],
                                  data['inputs'][..., :size, :size])
        own = own[..., :s_shape[0], :s_shape[1]]
        if own.shape[-2:] != s_shape:  # a smaller divisor: padded with 0
            own = torch.nn.functional.pad(
                own, (0, s_shape[1] - own.shape[-1],
                      0, s_shape[0] - own.shape[-2]))
        alone = teacher.extract_feat(own)
    for r, a in zip(recorded, alone):
        assert r.shape == a.shape
        assert torch.equal(r, a)
    # the student's samples keep the student's batch shape
    assert all(tuple(s.batch_input_shape) == tuple(s_shape)
               for s in data['data_samples'])


def test_same_preprocessing_reuses_the_students_tensor(teacher_ckpt):
    model = build(teacher_ckpt)
    data = model.data_preprocessor(batch(), True)
    assert 'teacher_inputs' not in data
    assert not model.data_preprocessor.differing
    model = _build(teacher_ckpt)
    assert set(model.data_preprocessor.differing) == {'teacher'}
    # predict/tensor and validation see the student's preprocessing only
    assert 'teacher_inputs' not in model.data_preprocessor(batch(), False)
    assert torch.equal(model.data_preprocessor.mean,
                       model.student.data_preprocessor.mean)


def test_student_batch_augments_with_other_teacher_refused(teacher_ckpt):
    from _helpers.det import distiller_cfg
    from mmengine.registry import MODELS
    model = model_cfg_from(load_config(TEACHER), 'teacher')
    model['data_preprocessor'] = dict(CAFFE)
    cfg = distiller_cfg(teacher_ckpt,
                        teacher=dict(config=model, checkpoint=teacher_ckpt))
    cfg['student']['data_preprocessor']['batch_augments'] = [
        dict(type='mmdet.BatchFixedSizePad', size=(64, 64))]
    with pytest.raises(ConfigError, match='batch_augments'):
        MODELS.build(cfg)


def test_teacher_preprocessor_follows_the_device(teacher_ckpt):
    model = _build(teacher_ckpt)  # the teacher is hidden from the tree
    pp = model.teacher_models['teacher'].data_preprocessor
    pp._device = torch.device('meta')
    model.to('cpu')
    assert pp.device == torch.device('cpu')
