"""Segmentation distillation configs on the tiny embedded data: every
config trains a step and predicts; exported students load into plain mmseg
models strictly; in the adversarial loop each optimizer changes only its
own parameters, the gradient penalty is finite and the teacher never
changes."""
import os.path as osp

import pytest
import torch
from mmengine.registry import MODELS
from mmengine.runner import Runner

from kdtools.models.distillers.export import export_student
from kdtools.models.distillers.teacher import model_cfg_from
from kdtools.utils import load_config
from kdtools.utils.errors import ConfigError
from conftest import run_tool, write_config

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


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    cfg = load_config(osp.join(osp.dirname(__file__), '..', 'configs',
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


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_seg_config_trains_predicts_exports(name, toy_data, teacher_ckpt,
                                            tmp_path):
    path, cfg, runner = _runner(name, toy_data, teacher_ckpt, tmp_path)
    model = runner.model
    optim = runner.build_optim_wrapper(cfg.optim_wrapper)
    batch = next(iter(runner.train_dataloader))
    model.train()
    log = model.train_step(batch, optim)
    for key in EXPECTED[name]:
        assert torch.isfinite(log[f'distill.{key}']), key
    model.eval()
    preds = model.test_step(batch)
    assert preds[0].pred_sem_seg.data.shape[-2:] == \
        batch['data_samples'][0].gt_sem_seg.data.shape[-2:]
    ckpt = str(tmp_path / 'distill.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    plain_cfg = load_config(export_student(path, ckpt,
                                           str(tmp_path / 'student.pth')))
    plain = MODELS.build(plain_cfg.model)
    plain.load_state_dict(torch.load(str(tmp_path / 'student.pth'))[
        'state_dict'], strict=True)
    assert 'discriminator' not in str(plain_cfg.model)


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


@pytest.mark.parametrize('config', [
    'seg/skd/skd-pi-pa-ho_pspnet-r101-d8_to_pspnet-r18-d8_40k_nyuv2-40.py',
    'seg/skd/skd-pi-pa-ho_pspnet-r101-d8_to_pspnet-r18-d8_80k_cityscapes-'
    '512x1024.py'])
def test_full_size_configs_build(config, tmp_path):
    """NYUv2 and Cityscapes (mmseg's own configs): R-101 teacher (random
    weights here) to R-18 student, the three structured-KD terms."""
    cfg = load_config(osp.join(osp.dirname(__file__), '..', 'configs',
                               config))
    assert cfg.train_dataloader.dataset.type in ('NYUv2Dataset',
                                                 'CityscapesDataset')
    teacher_cfg = model_cfg_from(cfg.model.teacher.config, 'teacher')
    assert teacher_cfg.backbone.depth == 101
    teacher_cfg.pop('pretrained', None)
    path = str(tmp_path / 't.pth')
    torch.save(dict(state_dict=MODELS.build(teacher_cfg).state_dict()), path)
    cfg.model.teacher.checkpoint = path
    cfg.model.input_shape = (3, 64, 64)
    model = MODELS.build(cfg.model)
    assert model.student.backbone.depth == 18
    assert {'loss_pixel', 'loss_pair'} == set(model.distill_losses)
    n_classes = 40 if 'nyuv2' in config else 19
    assert model.discriminator.features[0].in_channels == n_classes + 3


def test_benchmark_counts_the_critic_step(toy_data, teacher_ckpt, tmp_path):
    path = write_config(tmp_path / 'ho.py', CONFIGS['pi-pa-ho'],
                        seg_body(toy_data, teacher_ckpt))
    out = tmp_path / 'bench.json'
    res = run_tool(['tools/benchmark.py', path, '--iters', '1', '--warmup',
                    '1', '--batches', '1', '--json', str(out)], check=True)
    assert res.stdout.strip().splitlines()[-1].startswith('overhead ratio')
    import json
    figures = json.loads(out.read_text())
    assert figures['median_s']['c_distill_step'] > 0
