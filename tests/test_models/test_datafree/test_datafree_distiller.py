"""The DataFreeDistiller: the teacher is bit-identical after a data-free
run and never gets gradients, the generator and student do; every
configs/datafree config builds and runs one iteration on CPU (random
teachers, tiny sizes); bad input is a one-line ConfigError at build."""
import os.path as osp
import uuid

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.registry import MODELS, OPTIM_WRAPPERS

from kdtools.utils import ConfigError, load_config
from _helpers.datafree import DATAFREE_CONFIGS as CONFIGS
from _helpers.datafree import TOY, build as _build, model_cfg as _model_cfg
from _helpers.datafree import teacher_ckpt as _teacher_ckpt


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_and_runs_one_iteration(path, tmp_path):
    override = dict(synthesis=dict(batch_size=4, inner_steps=2,
                                   warmup_ratio=0.0))
    if load_config(path).model.get('task') == 'seg':
        override['generator'] = dict(img_size=32)  # NYUv2's 128: slow
    model, optim = _build(path, tmp_path, **override)
    model.train()
    logs = model.train_step({}, optim)
    assert int(model.rounds_done) == 1 and len(model.buffer) == 4
    assert torch.isfinite(torch.as_tensor(logs['loss'])), logs
    assert 'syn_loss_bn' in logs and 'time_synthesis' in logs


def test_teacher_unchanged_generator_and_student_trained(tmp_path):
    model, optim = _build(TOY, tmp_path, budget=8,
                          synthesis=dict(batch_size=4, warmup_ratio=0.5))
    model.train()
    teacher = model.teacher
    t_state = {k: v.clone() for k, v in teacher.state_dict().items()}
    g_state = {k: v.clone() for k, v in model.generator.state_dict().items()}
    s_state = {k: v.clone() for k, v in model.student.state_dict().items()}
    seen = {'student': 0}

    def count(grad):
        seen['student'] += 1
    for p in model.student.parameters():
        p.register_hook(count)
    # the meta-generator gets FOMAML gradients (the clones' summed), set
    # before each meta step
    meta_grads = []
    step = optim['generator'].step

    def checked_step(*a, **kw):
        meta_grads.append(all(p.grad is not None and p.grad.abs().sum() > 0
                              for p in model.generator.parameters()))
        return step(*a, **kw)
    optim['generator'].step = checked_step
    assert not any(p.requires_grad for p in teacher.parameters())
    for _ in range(4):  # warm-up round, then round + distillation steps
        model.train_step({}, optim)
    assert int(model.rounds_done) == 2 and int(model.kd_steps_done) == 3
    assert seen['student'] > 0 and meta_grads == [True, True]
    assert all(p.grad is None for p in teacher.parameters())
    assert not teacher.training
    for k, v in teacher.state_dict().items():  # BN running stats included
        assert torch.equal(v, t_state[k]), k
    assert any(not torch.equal(v, g_state[k]) for k, v in
               model.generator.state_dict().items()
               if v.is_floating_point())
    assert any(not torch.equal(v, s_state[k]) for k, v in
               model.student.state_dict().items() if v.is_floating_point())
    # the teacher stays out of the state dict; the run's state is in it
    keys = model.state_dict().keys()
    assert not any(k.startswith('teacher') for k in keys)
    for k in ('buffer.images', 'buffer.priorities', 'rounds_done', 'beta',
              'bn_prior.mmt_mean_0', 'generator.l1.0.weight'):
        assert k in keys


def test_schedule_warmup_then_spread(tmp_path):
    # a fresh message hub: no max_iters of an earlier in-process Runner
    MessageHub.get_instance(f'datafree-schedule-{uuid.uuid4().hex}')
    model, optim = _build(TOY, tmp_path, budget=20,
                          synthesis=dict(batch_size=4, inner_steps=1,
                                         warmup_ratio=0.2, span=0.8))
    # R = 5 rounds, R_w = 1; 4 rounds spread over the first 80% of the
    # distillation steps (outside a Runner: one per remaining round)
    assert (model.num_rounds, model.warmup_rounds) == (5, 1)
    model.train()
    for _ in range(6):
        model.train_step({}, optim)
    assert int(model.synthesised) == 20 and len(model.buffer) == 20


def test_bad_input_is_one_line_config_error(tmp_path):
    cases = {
        'budget': (dict(budget=3, synthesis=dict(batch_size=4)),
                   'smaller than one synthesis batch'),
        'buffer': (dict(budget=8, buffer_size=16), 'larger than the budget'),
    }
    for name, (override, msg) in cases.items():
        _, cfg = _model_cfg(TOY, tmp_path, **override)
        with pytest.raises(ConfigError, match=msg) as e:
            MODELS.build(cfg)
        assert '\n' not in str(e.value), name
    # a student with another class count
    _, cfg = _model_cfg(TOY, tmp_path)
    cfg['student']['head']['num_classes'] = 7
    with pytest.raises(ConfigError, match='7 classes') as e:
        MODELS.build(cfg)
    assert '\n' not in str(e.value)
    # a teacher without BN layers (GroupNorm ResNet)
    gn_teacher = dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='mmpretrain.ResNet_CIFAR', depth=18,
                      base_channels=8, stem_channels=8,
                      norm_cfg=dict(type='GN', num_groups=2)),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(type='mmpretrain.LinearClsHead', num_classes=10,
                  in_channels=64))
    _, cfg = _model_cfg(TOY, tmp_path)
    cfg['teacher'] = dict(config=gn_teacher, checkpoint=_teacher_ckpt(
        gn_teacher, tmp_path, 'gn.pth'))
    with pytest.raises(ConfigError, match='synthesis.bn_weight=0') as e:
        MODELS.build(cfg)
    assert '\n' not in str(e.value)
    cfg['synthesis']['bn_weight'] = 0  # the term switched off: builds
    MODELS.build(cfg)


def test_phi_scope_buffer_and_batch(tmp_path):
    """``phi_scope='buffer+batch'`` keeps each buffer item's teacher-argmax
    label (the teacher's prediction on the stored image), checkpointed,
    overwritten with the item on eviction, and hands their histogram to
    phi; an unknown scope is a one-line error."""
    model, optim = _build(TOY, tmp_path, budget=12, buffer_size=8,
                          synthesis=dict(batch_size=4, warmup_ratio=1.0,
                                         phi_scope='buffer+batch'))
    assert model.scope_counts().sum() == 0
    model.train()
    for _ in range(3):  # three warm-up rounds: 12 images into 8 slots
        model.train_step({}, optim)
    counts = model.buffer_class_counts
    assert 'buffer_class_counts' in model.state_dict()
    assert torch.equal(counts.sum(1), torch.ones(8))  # one label per item
    with torch.no_grad():
        stored = model.buffer.to_float(model.buffer.images)
        want = model.class_counts(stored).argmax(1)
    assert torch.equal(counts.argmax(1), want)
    assert torch.equal(model.scope_counts(), counts.sum(0))
    _, cfg = _model_cfg(TOY, tmp_path, synthesis=dict(batch_size=4,
                                                      phi_scope='all'))
    with pytest.raises(ConfigError, match="phi_scope='all'") as e:
        MODELS.build(cfg)
    assert '\n' not in str(e.value)


def test_predict_is_the_students(tmp_path):
    model, _ = _build(TOY, tmp_path)
    model.eval()
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(model(x, mode='tensor'),
                       model.student(x, mode='tensor'))
    assert OPTIM_WRAPPERS is not None
