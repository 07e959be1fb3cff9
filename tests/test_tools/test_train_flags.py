"""tools/train.py's flags beyond mmdet's basics: --auto-scale-lr (mmdet's:
the config's auto_scale_lr, refused without a base batch size),
--dist-timeout (env_cfg.dist_cfg.timeout); resuming from another config's
checkpoint as one line before training; the refusal's --trust-checkpoint
advice matching every tool's flag."""
import argparse
import importlib.util
import os.path as osp
import re

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.registry import MODELS

from kdtools.utils import CheckpointError, load_config
from kdtools.utils.checkpoint import load_checkpoint_file
from kdtools.utils.errors import UnsafeCheckpointError
from conftest import ROOT, run_tool, tiny_det_body, write_config

STUDENT = 'det/gfl_r18-base16_fpn_12e_toydet.py'
SEG = 'seg/fcn_r18-base16-d8_2k_toyseg.py'


def load_tool(relpath):
    name = 'kdtools_tools_' + re.sub(r'\W', '_', relpath[:-3])
    spec = importlib.util.spec_from_file_location(
        name, osp.join(ROOT, 'tools', relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _one_error_line(capsys):
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1, err
    assert err[0].startswith('kdtools: error:')
    return err[0]


def test_auto_scale_lr_scales_the_learning_rate(toy_data, tmp_path):
    """base_batch_size 8 (the detection schedule), 4 images per batch on
    one process: the Runner trains at half the config's lr."""
    from mmengine.runner import Runner
    train = load_tool('train.py')
    cfg_path = write_config(tmp_path / 'det.py', STUDENT,
                            tiny_det_body(toy_data))
    plain = train.prepare_config(train.parse_args(
        [cfg_path, '--work-dir', str(tmp_path / 'a')]))
    assert not plain.auto_scale_lr.enable
    cfg = train.prepare_config(train.parse_args(
        [cfg_path, '--auto-scale-lr', '--work-dir', str(tmp_path / 'b')]))
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=8)
    runner = Runner.from_cfg(cfg)
    # what Runner.train does before the first iteration
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.scale_lr(runner.optim_wrapper, runner.auto_scale_lr)
    lrs = {g['lr'] for g in runner.optim_wrapper.optimizer.param_groups}
    assert len(lrs) == 1 and lrs.pop() == pytest.approx(2e-3 * 4 / 8)


def test_auto_scale_lr_without_base_batch_size_is_one_line(
        toy_data, tmp_path, capsys):
    train = load_tool('train.py')
    cfg = write_config(tmp_path / 'seg.py', SEG)
    with pytest.raises(SystemExit) as e:
        train.main([cfg, '--auto-scale-lr', '--work-dir', str(tmp_path)])
    assert e.value.code == 2
    line = _one_error_line(capsys)
    assert '--auto-scale-lr' in line and 'base_batch_size' in line
    assert 'seg.py' in line


def test_dist_timeout_sets_env_cfg(toy_data, tmp_path, capsys):
    """--dist-timeout SECONDS is mmengine's env_cfg.dist_cfg.timeout (read
    by mmengine's init_dist on GPU and by kdtools' gloo set-up on CPU,
    where it replaces the CPU default); not positive: one line."""
    from kdtools.engine.runner_utils import CPU_DIST_TIMEOUT_S
    train = load_tool('train.py')
    cfg_path = write_config(tmp_path / 'det.py', STUDENT,
                            tiny_det_body(toy_data))
    cfg = train.prepare_config(train.parse_args(
        [cfg_path, '--dist-timeout', '42', '--work-dir', str(tmp_path)]))
    assert cfg.env_cfg.dist_cfg.timeout == 42 != CPU_DIST_TIMEOUT_S
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'  # the rest is kept
    cfg = train.prepare_config(train.parse_args(
        [cfg_path, '--dist-timeout', '2.5', '--work-dir', str(tmp_path)]))
    assert cfg.env_cfg.dist_cfg.timeout == 2.5
    with pytest.raises(SystemExit):
        train.main([cfg_path, '--dist-timeout', '0', '--work-dir',
                    str(tmp_path)])
    assert 'positive number of seconds' in _one_error_line(capsys)


def test_resume_from_another_configs_checkpoint_is_one_line(
        toy_data, tmp_path):
    """A segmentation model's checkpoint resumed into a detection config:
    one line naming the checkpoint, before any training."""
    cfg = write_config(tmp_path / 'det.py', STUDENT,
                       tiny_det_body(toy_data, max_epochs=1))
    seg = MODELS.build(load_config(write_config(tmp_path / 's.py',
                                                SEG)).model)
    ckpt = str(tmp_path / 'seg_epoch_1.pth')
    torch.save(dict(state_dict=seg.state_dict(),
                    meta=dict(epoch=1, iter=8)), ckpt)
    work = tmp_path / 'work'
    res = run_tool(['tools/train.py', cfg, '--resume', ckpt, '--work-dir',
                    str(work)])
    assert res.returncode == 2, res.stderr[-3000:]
    assert 'Traceback' not in res.stderr
    err = [ln for ln in res.stderr.splitlines() if 'error' in ln.lower()]
    assert len(err) == 1 and err[0].startswith('kdtools: error:'), \
        res.stderr[-3000:]
    assert ckpt in err[0] and 'different model/config' in err[0]
    assert 'Epoch(train)' not in res.stdout
    assert not list(work.glob('epoch_*.pth'))


def test_resume_with_another_optimizer_is_one_line(toy_data, tmp_path):
    """The same model's weights with the optimizer state of another
    config (other parameter groups): torch's "loaded state dict contains a
    parameter group that doesn't match the size of optimizer's group"
    becomes one error naming the checkpoint, raised where the Runner
    resumes (before the first iteration)."""
    from mmengine.runner import Runner
    train = load_tool('train.py')
    cfg_path = write_config(tmp_path / 'det.py', STUDENT,
                            tiny_det_body(toy_data))
    model = MODELS.build(load_config(cfg_path).model)
    params = list(model.parameters())
    other = torch.optim.AdamW(params[:5], lr=1e-3)  # another param grouping
    ckpt = str(tmp_path / 'other_epoch_1.pth')
    hub = MessageHub.get_instance('kdtools-test-other-config').state_dict()
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(epoch=1, iter=4), message_hub=hub,
                    optimizer=other.state_dict()), ckpt)
    cfg = train.prepare_config(train.parse_args(
        [cfg_path, '--resume', ckpt, '--work-dir', str(tmp_path / 'w')]))
    runner = Runner.from_cfg(cfg)
    train.check_resume_source(runner, cfg)  # same weights: accepted
    train._resume_one_line(runner, cfg)
    with pytest.raises(CheckpointError) as e:
        runner.load_or_resume()
    msg = str(e.value)
    assert ckpt in msg and 'different model/config' in msg
    assert '\n' not in msg


def _unsafe_checkpoint(path):
    torch.save(dict(state_dict={}, meta=dict(args=argparse.Namespace())),
               str(path))
    return str(path)


@pytest.mark.parametrize('tool, positionals', [
    ('train.py', ['cfg.py']),
    ('test.py', ['cfg.py', 'ckpt.pth']),
    ('model_converters/export_student.py', ['cfg.py', 'ckpt.pth', 'o.pth']),
])
def test_trust_advice_matches_every_tools_flag(tmp_path, tool, positionals):
    """The refusal names each tool that takes --trust-checkpoint and the
    advised ``--trust-checkpoint PATH`` parses on each (the path with a
    space quoted for the shell)."""
    import shlex
    path = _unsafe_checkpoint(tmp_path / 'my ckpt.pth')
    with pytest.raises(UnsafeCheckpointError) as e:
        load_checkpoint_file(path)
    msg = str(e.value)
    assert osp.join('tools', tool) in msg
    advice = shlex.split(msg[msg.index('--trust-checkpoint'):])[:2]
    assert advice == ['--trust-checkpoint', path]
    args = load_tool(tool).parse_args(positionals + advice)
    assert args.trust_checkpoint == [path]


def test_resume_reads_the_checkpoint_once(toy_data, tmp_path):
    """``--resume PATH``: the checkpoint read to check it holds this
    config's model is the one the Runner resumes from (one read of the
    file), and the resume restores its weights and counters."""
    from unittest import mock

    from mmengine.runner import Runner
    train = load_tool('train.py')
    cfg_path = write_config(tmp_path / 'det.py', STUDENT,
                            tiny_det_body(toy_data))
    model = MODELS.build(load_config(cfg_path).model)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    ckpt = str(tmp_path / 'same_epoch_1.pth')
    hub = MessageHub.get_instance('kdtools-test-same-config').state_dict()
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(epoch=1, iter=4), message_hub=hub), ckpt)
    cfg = train.prepare_config(train.parse_args(
        [cfg_path, '--resume', ckpt, '--work-dir', str(tmp_path / 'w')]))
    runner = Runner.from_cfg(cfg)
    load = torch.load
    with mock.patch.object(torch, 'load', side_effect=load) as reads:
        train._resume_one_line(runner, cfg,
                               train.check_resume_source(runner, cfg))
        runner.load_or_resume()
    assert [c for c in reads.call_args_list if ckpt in map(str, c.args)
            ] == reads.call_args_list[:1]
    assert reads.call_count == 1
    assert runner.train_loop.iter == 4 and runner.train_loop.epoch == 1
    assert torch.equal(next(runner.model.parameters()),
                       next(model.parameters()))
