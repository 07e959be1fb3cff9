"""Distillation with the real Runner through the tools: resume gives the
same losses, the teacher is evaluated once, the exported student loads into
plain mmdet with strict=True and predicts the same, 2-process gloo runs."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.registry import MODELS

from kdtools.utils import load_config
from conftest import CONFIGS, ROOT, run_tool, tiny_det_body, write_config

HINT = 'det/hint/hint_fpn_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py'


@pytest.fixture(scope='module')
def distill_cfg(toy_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('distill')
    torch.manual_seed(0)
    teacher_cfg = load_config(
        osp.join(CONFIGS, 'det/gfl_mobilenetv2_fpn_12e_toydet.py')).model
    teacher_cfg.backbone.init_cfg = None  # random weights, no file needed
    teacher = MODELS.build(teacher_cfg)
    teacher.init_weights()
    with torch.no_grad():  # confident enough to predict boxes
        teacher.bbox_head.gfl_cls.bias.zero_()
    ckpt = str(tmp / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    body = tiny_det_body(toy_data, max_epochs=2) + \
        f"model = dict(teacher=dict(checkpoint={ckpt!r}))\n"
    return write_config(tmp / 'hint.py', HINT, body)


def _scalars(work_dir):
    recs = []
    for dirpath, _, files in os.walk(work_dir):
        if 'scalars.json' in files:
            with open(osp.join(dirpath, 'scalars.json')) as f:
                recs += [json.loads(line) for line in f]
    return recs


def _loss_by_iter(work_dir):
    return {r['iter']: r['loss'] for r in _scalars(work_dir)
            if 'loss' in r and 'iter' in r}


def test_resume_gives_same_losses_and_teacher_evaluated_once(
        distill_cfg, tmp_path):
    full = tmp_path / 'full'
    res = run_tool(['tools/train.py', distill_cfg, '--work-dir', str(full)],
                   check=True)
    log = res.stdout + res.stderr
    assert log.count('teacher evaluation:') == 1
    assert 'teacher/coco/bbox_mAP' in log
    recs = _scalars(full)
    assert any('distill.loss_hint_p3' in r for r in recs)
    # the student's metric is the plain one
    assert any('coco/bbox_mAP' in r for r in recs)

    part = tmp_path / 'part'
    run_tool(['tools/train.py', distill_cfg, '--work-dir', str(part),
              '--cfg-options', 'train_cfg.max_epochs=1'], check=True)
    ckpt = torch.load(str(part / 'epoch_1.pth'), weights_only=False)
    # no teacher weights in the distiller's checkpoint
    assert ckpt['state_dict'] and all(
        k.startswith(('student.', 'adapters.')) for k in ckpt['state_dict'])
    run_tool(['tools/train.py', distill_cfg, '--work-dir', str(part),
              '--resume'], check=True)
    a, b = _loss_by_iter(full), _loss_by_iter(part)
    assert sorted(a) == sorted(b) and len(a) == 8
    for it in a:
        assert a[it] == pytest.approx(b[it], rel=1e-4, abs=1e-5), it


def test_export_student_loads_strict_and_predicts_same(distill_cfg, tmp_path):
    work = tmp_path / 'work'
    run_tool(['tools/train.py', distill_cfg, '--work-dir', str(work),
              '--cfg-options', 'train_cfg.max_epochs=1'], check=True)
    out = tmp_path / 'student.pth'
    run_tool(['tools/export_student.py', distill_cfg,
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
    from test_distiller import batch
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


def test_plain_student_load_from_is_reported(distill_cfg, tmp_path):
    student = MODELS.build(load_config(osp.join(
        CONFIGS, 'det/gfl_r18-base16_fpn_12e_toydet.py')).model)
    path = str(tmp_path / 'plain.pth')
    torch.save(dict(state_dict=student.state_dict()), path)
    res = run_tool(['tools/train.py', distill_cfg, '--work-dir',
                    str(tmp_path / 'w'), '--cfg-options',
                    'train_cfg.max_epochs=1', f'load_from={path}'],
                   check=True)
    assert 'plain student checkpoint' in res.stdout + res.stderr


def test_dist_distillation_two_processes_gloo(distill_cfg, tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, PORT='29533',
               OMP_NUM_THREADS='1')
    work = tmp_path / 'work'
    res = subprocess.run(
        ['bash', 'tools/dist_train.sh', distill_cfg, '2', '--work-dir',
         str(work), '--cfg-options', 'train_cfg.max_epochs=1'],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    assert (work / 'epoch_1.pth').exists()


def test_benchmark_prints_overhead_ratio_last(distill_cfg, tmp_path):
    out = tmp_path / 'bench.json'
    res = run_tool(['tools/benchmark.py', distill_cfg, '--iters', '2',
                    '--warmup', '1', '--batches', '2', '--random-teacher',
                    '--json', str(out)], check=True)
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith('overhead ratio c / (a + b): ')
    ratio = float(last.rsplit(' ', 1)[1])
    figures = json.loads(out.read_text())
    assert figures['overhead_ratio'] == pytest.approx(ratio, abs=1e-3)
    assert set(figures['median_s']) == {'a_student_step',
                                        'b_teacher_forward', 'c_distill_step'}
    assert all(v > 0 for v in figures['peak_memory_mb'].values())
