"""tools/analysis_tools/kd_report.py: the table, JSON and plot for a
teacher, a student and a distilled student; a missing checkpoint refused."""
import os.path as osp

import pytest
import torch
from mmengine.registry import MODELS

from kdtools.utils import load_config
from conftest import write_config
from _helpers.cls import CONFIGS, ROOT, cls_body


def test_kd_report_table_json_and_plot(toy_data, teacher_ckpts, tmp_path):
    import json
    from conftest import run_tool
    body = cls_body(toy_data, CONFIGS['kd'], teacher_ckpts)
    distill = write_config(tmp_path / 'kd.py', CONFIGS['kd'], body)
    plain_body = body.replace(body[body.index('model = dict('):body.index(
        'randomness')], '')
    student = write_config(tmp_path / 'student.py',
                           'cls/vit-tiny-p4_10e_toycls.py', plain_body)
    teacher = write_config(tmp_path / 'teacher.py',
                           'cls/resnet18-base32_10e_toycls.py', plain_body)
    cfg = load_config(distill)
    model = MODELS.build(cfg.model)
    ckpt_d = str(tmp_path / 'distill.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt_d)
    ckpt_s = str(tmp_path / 'student.pth')
    torch.save(dict(state_dict=model.student.state_dict()), ckpt_s)
    t_ckpt = teacher_ckpts['resnet18-base32_10e_toycls.py']
    out = tmp_path / 'report'
    res = run_tool(['tools/analysis_tools/kd_report.py',
                    '--model', 'teacher', teacher, t_ckpt,
                    '--model', 'student', student, ckpt_s,
                    '--model', 'student+kd', distill, ckpt_d,
                    '--train-time', 'teacher', '90', '--images', '3',
                    '--latency-iters', '2',
                    '--out', str(out)], timeout=600, check=True)
    with open(out / 'report.json') as f:
        rows = json.load(f)['models']
    assert [r['name'] for r in rows] == ['teacher', 'student', 'student+kd']
    assert rows[0]['params_M'] > rows[1]['params_M'] == rows[2]['params_M']
    assert rows[0]['train_min'] == pytest.approx(1.5)
    assert rows[1]['train_min'] is None
    for r in rows:
        assert r['infer_ms'] > 0
        assert 0 <= r['accuracy/top1'] <= r['accuracy/top5'] <= 100
        # the deployed graph: FLOPs at the 32x32 test size, latency in
        # both runtimes at batch 1 and 8, the ONNX export checked
        assert r['input_shape'] == [1, 3, 32, 32]
        assert r['flops_G'] > 0 and r['activations_M'] > 0
        for key in ('torch_b1_ms', 'torch_b8_ms', 'onnx_b1_ms',
                    'onnx_b8_ms'):
            assert r[key] > 0, key
        assert r['onnx_parity']['ok'] and r['threads'] >= 1
    # the ResNet-18 teacher costs more than the ViT-tiny student
    assert rows[0]['flops_G'] > rows[1]['flops_G'] == rows[2]['flops_G']
    # the distilled student was exported and evaluated as a plain model
    assert rows[2]['checkpoint'].endswith('student.pth')
    assert (out / 'report.png').stat().st_size > 1000
    assert (out / 'accuracy_latency.png').stat().st_size > 1000
    assert 'student+kd' in res.stdout and 'ms / image' in res.stdout
    assert 'GFLOPs' in res.stdout and 'onnx_b8' in res.stdout


def test_kd_report_refuses_a_missing_checkpoint(tmp_path):
    from conftest import run_tool
    res = run_tool(['tools/analysis_tools/kd_report.py', '--model', 'x',
                    osp.join(ROOT, CONFIGS['kd']), str(tmp_path / 'none.pth')])
    assert res.returncode == 2
    assert "--model x: checkpoint" in res.stderr and 'does not exist' in \
        res.stderr
