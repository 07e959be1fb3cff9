"""tools/model_converters/export_student.py: the exported student loads
into plain mmdet with strict=True, predicts as the distiller does, and
evaluates with tools/test.py as the distillation config does; outputs never
overwrite other files without --force (and never the inputs); the
--trust-checkpoint forms."""
import argparse
import importlib.util
import json
import os.path as osp
import re
import shutil

import pytest
import torch
from mmengine.registry import MODELS

from kdtools.utils import load_config
from conftest import ROOT, run_tool


def test_export_student_loads_strict_and_predicts_same(distill_cfg, tmp_path):
    work = tmp_path / 'work'
    run_tool(['tools/train.py', distill_cfg, '--work-dir', str(work),
              '--cfg-options', 'train_cfg.max_epochs=1'], check=True)
    out = tmp_path / 'student.pth'
    run_tool(['tools/model_converters/export_student.py', distill_cfg,
              str(work / 'epoch_1.pth'), str(out)], check=True)
    assert (tmp_path / 'student.py').exists()

    # stock mmdet: its own init_detector with the exported config
    from mmdet.utils import register_all_modules
    from mmengine.runner import load_checkpoint
    register_all_modules(init_default_scope=False)
    cfg = load_config(str(tmp_path / 'student.py'))
    plain = MODELS.build(cfg.model)
    load_checkpoint(plain, str(out), strict=True)

    distiller = MODELS.build(load_config(distill_cfg).model)
    load_checkpoint(distiller, str(work / 'epoch_1.pth'), strict=True)
    from _helpers.det import batch
    plain.eval()
    distiller.eval()
    with torch.no_grad():
        data = distiller.data_preprocessor(batch(), False)
        p = plain(**plain.data_preprocessor(batch(), False), mode='predict')
        d = distiller(**data, mode='predict')
    for x, y in zip(p, d):
        assert torch.equal(x.pred_instances.bboxes, y.pred_instances.bboxes)
        assert torch.equal(x.pred_instances.scores, y.pred_instances.scores)

    # and the plain checkpoint evaluates with tools/test.py
    metrics = tmp_path / 'm.json'
    run_tool(['tools/test.py', str(tmp_path / 'student.py'), str(out),
              '--out', str(metrics), '--work-dir', str(tmp_path / 't'),
              '--cfg-options', 'model.test_cfg.score_thr=0.0'], check=True)
    plain_metrics = json.loads(metrics.read_text())['metrics']
    assert 'coco/bbox_mAP' in plain_metrics

    # tools/test.py on the distillation config evaluates the same student
    # (no teacher needed)
    metrics = tmp_path / 'd.json'
    res = run_tool(['tools/test.py', distill_cfg, str(work / 'epoch_1.pth'),
                    '--out', str(metrics), '--work-dir', str(tmp_path / 'd'),
                    '--cfg-options', 'model.teacher.checkpoint=/nonexistent',
                    'model.student.test_cfg.score_thr=0.0'], check=True)
    assert 'evaluating its student' in res.stdout
    assert json.loads(metrics.read_text())['metrics'] == plain_metrics


def _export_tool():
    spec = importlib.util.spec_from_file_location(
        'kdtools_tools_export_student',
        osp.join(ROOT, 'tools', 'model_converters', 'export_student.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def distiller_ckpt(distill_cfg, tmp_path_factory):
    """A distiller checkpoint of ``distill_cfg`` (initial weights) that
    pickles a non-MMLab type in its meta (refused unless trusted)."""
    torch.manual_seed(0)
    model = MODELS.build(load_config(distill_cfg).model)
    path = tmp_path_factory.mktemp('distiller') / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(epoch=1, args=argparse.Namespace(a=1))),
               str(path))
    return str(path)


def _err_line(capsys):
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1, err
    return err[0]


def test_export_refuses_overwrites_and_never_clobbers(
        distill_cfg, distiller_ckpt, tmp_path, capsys):
    """An output that would overwrite a file is refused (one line, exit 2)
    unless --force; the checkpoint is never overwritten by the config dump
    (an OUT ending in .py is refused) and the inputs are never overwritten,
    even with --force."""
    tool = _export_tool()
    trust = ['--trust-checkpoint', distiller_ckpt]
    before = open(distiller_ckpt, 'rb').read()

    def export(*argv):
        with pytest.raises(SystemExit) as e:
            tool.main(list(argv) + trust)
        assert e.value.code == 2
        return _err_line(capsys)

    # OUT.py: the config would be written over the checkpoint
    assert '.pth' in export(distill_cfg, distiller_ckpt,
                            str(tmp_path / 'student.py'))
    assert not list(tmp_path.iterdir())
    # the input checkpoint (and config) as output, even with --force
    for force in ([], ['--force']):
        assert 'overwrite the input' in export(
            distill_cfg, distiller_ckpt, distiller_ckpt, *force)
    assert open(distiller_ckpt, 'rb').read() == before
    cfg_as_out = osp.splitext(distill_cfg)[0] + '.pth'
    assert 'overwrite the input' in export(distill_cfg, distiller_ckpt,
                                           cfg_as_out, '--force')
    assert not osp.exists(cfg_as_out)

    # an existing OUT.py alone (someone's config) is not overwritten
    out, out_cfg = tmp_path / 'out.pth', tmp_path / 'out.py'
    out_cfg.write_text('# my own config\n')
    line = export(distill_cfg, distiller_ckpt, str(out))
    assert str(out_cfg) in line and '--force' in line
    assert out_cfg.read_text() == '# my own config\n' and not out.exists()
    # an existing OUT.pth alone neither
    out_cfg.unlink()
    out.write_bytes(b'old weights')
    assert str(out) in export(distill_cfg, distiller_ckpt, str(out))
    assert out.read_bytes() == b'old weights' and not out_cfg.exists()
    # --force replaces both
    tool.main([distill_cfg, distiller_ckpt, str(out), '--force'] + trust)
    assert torch.load(str(out), weights_only=True)['state_dict']
    assert 'model' in load_config(str(out_cfg))


def test_export_trust_checkpoint_flag_forms(distill_cfg, distiller_ckpt,
                                            tmp_path, capsys):
    """The refusal's advice, --trust-checkpoint PATH, is what the tool
    takes; --trust-checkpoint alone (the old form, before or after the
    positionals) trusts CHECKPOINT."""
    tool = _export_tool()
    # a file of its own: trust is per path and lasts the process
    distiller_ckpt = str(shutil.copy(distiller_ckpt,
                                     tmp_path / 'untrusted.pth'))
    with pytest.raises(SystemExit):
        tool.main([distill_cfg, distiller_ckpt, str(tmp_path / 'a.pth')])
    line = _err_line(capsys)
    advice = re.search(r'--trust-checkpoint (\S+)', line)
    assert advice and 'export_student.py' in line
    tool.main([distill_cfg, distiller_ckpt, str(tmp_path / 'a.pth'),
               '--trust-checkpoint', advice.group(1)])
    tool.main(['--trust-checkpoint', distill_cfg, distiller_ckpt,
               str(tmp_path / 'b.pth')])
    tool.main([distill_cfg, distiller_ckpt, str(tmp_path / 'c.pth'),
               '--trust-checkpoint'])
    args = tool.parse_args(['--trust-checkpoint', distiller_ckpt,
                            distill_cfg, distiller_ckpt, 'd.pth'])
    assert args.trust_checkpoint == [distiller_ckpt] and args.out == 'd.pth'
    assert all((tmp_path / f'{n}.pth').exists() and
               (tmp_path / f'{n}.py').exists() for n in 'abc')
