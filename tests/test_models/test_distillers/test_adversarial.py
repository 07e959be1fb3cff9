"""The adversarial term (SKD's holistic distillation): each optimizer
changes only its own parameters, the gradient penalty is finite, the
teacher never changes; a critic without its optimizer is refused; two
processes on CPU."""
import pytest
import torch
from mmengine.registry import MODELS

from kdtools.utils import load_config
from kdtools.utils.errors import ConfigError
from conftest import run_tool, write_config
from _helpers.seg import CONFIGS, _runner, make_teacher_ckpt, seg_body


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """A random-weight checkpoint of the SKD configs' teacher."""
    return make_teacher_ckpt(tmp_path_factory)


def test_adversarial_loop_updates_each_side_in_its_own_step(
        toy_data, teacher_ckpt, tmp_path):
    _, cfg, runner = _runner('pi-pa-ho', toy_data, teacher_ckpt, tmp_path)
    model = runner.model
    optim = runner.build_optim_wrapper(cfg.optim_wrapper)
    assert sorted(optim.optim_wrappers) == ['discriminator', 'student']
    d_params = set(map(id, model.discriminator.parameters()))
    assert not d_params & {id(p) for g in optim['student'].param_groups
                           for p in g['params']}
    teacher = next(iter(model.teacher_models.values()))
    snap = {n: [p.detach().clone() for p in m.parameters()]
            for n, m in (('student', model.student),
                         ('disc', model.discriminator),
                         ('teacher', teacher))}

    def changed(name, module):
        return any(not torch.equal(a, b)
                   for a, b in zip(snap[name], module.parameters()))

    batch = next(iter(runner.train_dataloader))
    model.train()
    # the student's step alone: the critic does not move
    data = model.data_preprocessor(batch, True)
    losses = model._run_forward(data, mode='loss')
    loss, _ = model.parse_losses(losses)
    optim['student'].update_params(loss)
    assert changed('student', model.student)
    assert not changed('disc', model.discriminator)
    assert all(p.grad is None or not p.grad.abs().sum()
               for p in model.discriminator.parameters())
    # the critic's step alone: the student does not move
    snap['student'] = [p.detach().clone() for p in model.student.parameters()]
    d_losses = model.discriminator_loss()
    assert torch.isfinite(d_losses['disc.loss_gp'])
    assert d_losses['disc.loss_gp'] >= 0
    d_loss, _ = model.parse_losses(d_losses)
    optim['discriminator'].update_params(d_loss)
    assert changed('disc', model.discriminator)
    assert not changed('student', model.student)
    # the whole train_step, twice: the teacher never changes
    for _ in range(2):
        log = model.train_step(batch, optim)
    assert {'distill.loss_holistic', 'disc.loss_wgan', 'disc.loss_gp',
            'disc.loss', 'loss'} <= set(log)
    assert not changed('teacher', teacher)


def test_discriminator_without_its_optimizer_is_refused(
        toy_data, teacher_ckpt, tmp_path):
    body = seg_body(toy_data, teacher_ckpt) + (
        "optim_wrapper = dict(_delete_=True, type='OptimWrapper', "
        "optimizer=dict(type='AdamW', lr=1e-3))\n")
    path = write_config(tmp_path / 'noopt.py', CONFIGS['pi-pa-ho'], body)
    res = run_tool(['tools/train.py', path, '--work-dir',
                    str(tmp_path / 'w')])
    assert res.returncode != 0
    assert 'optim_wrapper has no "discriminator"' in res.stderr
    cfg = load_config(path)
    cfg.model.discriminator.pop('type')
    with pytest.raises((ConfigError, KeyError)):
        MODELS.build(cfg.model)


def test_adversarial_two_processes_gloo(toy_data, teacher_ckpt, tmp_path):
    """2 processes on CPU: each trained part in its own DDP wrapper
    (MMSeparateDistributedDataParallel), student and critic stepped by
    their own optimizers; checkpoints keep plain key names."""
    import os
    import subprocess
    import sys

    from conftest import ROOT
    path = write_config(tmp_path / 'ho.py', CONFIGS['pi-pa-ho'],
                        seg_body(toy_data, teacher_ckpt, iters=2))
    env = dict(os.environ, PYTHON=sys.executable, PORT='29541',
               OMP_NUM_THREADS='1')
    work = tmp_path / 'work'
    res = subprocess.run(
        ['bash', 'tools/dist_train.sh', path, '2', '--work-dir', str(work)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    ckpt = torch.load(str(work / 'iter_2.pth'), weights_only=False)
    keys = list(ckpt['state_dict'])
    assert any(k.startswith('discriminator.') for k in keys)
    assert not any('.module.' in k for k in keys)
    assert set(ckpt['optimizer']) == {'student', 'discriminator'}


def test_holistic_term_aligns_score_maps_of_different_strides(
        toy_data, tmp_path):
    """A stride-4 DeepLabV3+ student and a stride-8 PSPNet teacher (a
    tensor-size RuntimeError at iteration 1 before): the critic compares
    them at the student's size, as the pixel-wise term does."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from _helpers.stock import (PSP_TEACHER, distill_body,
                                random_teacher_ckpt,
                                write_stock_deeplabv3plus)
    write_stock_deeplabv3plus(tmp_path / 'my_deeplabv3plus.py', toy_data)
    ckpt = random_teacher_ckpt(PSP_TEACHER, tmp_path / 'teacher.pth')
    logits = dict(logits=dict(type='MethodOutputs',
                              source='decode_head.forward'))
    pixel = dict(loss_pixel=dict(
        type='PixelWiseKDLoss',
        inputs=dict(preds_S='student.logits', preds_T='teacher.logits')))
    extra = (", discriminator=dict(type='ScoreMapDiscriminator', "
             "channels=(16, 32))")
    path = tmp_path / 'ho.py'
    with open(path, 'w') as f:
        f.write("_base_ = ['my_deeplabv3plus.py']\n" + distill_body(
            '{{_base_.model}}', PSP_TEACHER, ckpt, pixel, logits, extra) +
            "optim_wrapper = dict(_delete_=True, constructor="
            "'DistillerOptimWrapperConstructor', "
            "student={{_base_.optim_wrapper}}, discriminator=dict("
            "type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4)))\n"
            "train_cfg = dict(max_iters=2)\n")
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    model = runner.model
    runner.train()
    s_map = model.student_recorders['logits'].get()
    t_map = model.teacher_recorders['teacher']['logits'].get()
    assert s_map.shape[2:] == (16, 16) and t_map.shape[2:] == (8, 8)
    logged = runner.message_hub.log_scalars
    for key in ('distill.loss_holistic', 'disc.loss_wgan', 'disc.loss_gp'):
        assert torch.isfinite(torch.tensor(
            logged[f'train/{key}'].current())), key
