"""TeacherEvalHook: the teacher evaluated through its own data preprocessor,
the result kept in the work dir (keyed by the checkpoint's sha256 and the
validation config) and reused on resume/restart, and logged beside the
student's metrics at every validation."""
import copy
import hashlib
import json
from types import SimpleNamespace
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger

from kdtools.engine.hooks import TeacherEvalHook
from kdtools.models.distillers.teacher import model_cfg_from
from kdtools.utils import load_config
from _helpers.det import TEACHER, batch, build, make_teacher_ckpt


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    return make_teacher_ckpt(tmp_path_factory)


def _runner(tmp_path, ckpt, ann='val.json'):
    teacher = torch.nn.Linear(1, 1)
    teacher.kdtools_checkpoint, teacher.kdtools_config = ckpt, dict(a=1)
    return SimpleNamespace(
        model=SimpleNamespace(teacher_models=dict(teacher=teacher)),
        val_loop=object(), work_dir=str(tmp_path), iter=0,
        cfg=Config(dict(val_dataloader=dict(dataset=dict(ann_file=ann)),
                        val_evaluator=dict(type='CocoMetric'))),
        message_hub=MessageHub.get_instance('teacher-eval-test'),
        visualizer=mock.Mock(), logger=MMLogger.get_current_instance())


def test_result_kept_reused_and_logged_at_each_validation(tmp_path):
    ckpt = tmp_path / 'teacher.pth'
    ckpt.write_bytes(b'weights')
    calls = []

    def evaluate(model, name, teacher, loop):
        calls.append(name)
        return {'coco/bbox_mAP': 0.5 + len(calls)}

    with mock.patch.object(TeacherEvalHook, '_evaluate',
                           staticmethod(evaluate)):
        TeacherEvalHook().before_train(_runner(tmp_path, str(ckpt)))
        kept = json.loads((tmp_path / 'teacher_eval.json').read_text())
        entry = kept['teachers']['teacher']
        assert entry['metrics'] == {'coco/bbox_mAP': 1.5}
        assert entry['key']['checkpoint_sha256'] == \
            hashlib.sha256(b'weights').hexdigest()
        assert entry['key']['val_dataset'] == {'ann_file': 'val.json'}
        # resume / restart in the same work dir: not evaluated again
        hook, runner = TeacherEvalHook(), _runner(tmp_path, str(ckpt))
        hook.before_train(runner)
        assert calls == ['teacher']
        hook.after_val_epoch(runner, {'coco/bbox_mAP': 0.1})
        assert runner.message_hub.get_scalar(
            'val/teacher/coco/bbox_mAP').current() == 1.5
        # another validation set or another checkpoint: evaluated again
        TeacherEvalHook().before_train(_runner(tmp_path, str(ckpt), 'x'))
        ckpt.write_bytes(b'other weights')
        TeacherEvalHook().before_train(_runner(tmp_path, str(ckpt), 'x'))
    assert len(calls) == 3


def test_evaluated_on_its_own_preprocessing(teacher_ckpt):
    cfg = model_cfg_from(load_config(TEACHER), 'teacher')
    cfg['data_preprocessor'] = dict(
        type='mmdet.DetDataPreprocessor', mean=[103.53, 116.28, 123.675],
        std=[1.0, 1.0, 1.0], bgr_to_rgb=False, pad_size_divisor=32)
    model = build(teacher_ckpt,
                  teacher=dict(config=cfg, checkpoint=teacher_ckpt))
    seen = []
    evaluator = mock.Mock()
    loop = SimpleNamespace(dataloader=mock.MagicMock(), evaluator=evaluator)
    loop.dataloader.__iter__.return_value = [batch()]

    def teacher(inputs, data_samples, mode):
        seen.append(inputs)
        return []

    TeacherEvalHook._evaluate(model, 'teacher', teacher, loop)
    own = model.teacher_models['teacher'].data_preprocessor(
        copy.deepcopy(batch()), False)['inputs']
    assert torch.equal(seen[0], own)
    assert not torch.allclose(
        seen[0], model.data_preprocessor(batch(), False)['inputs'])
