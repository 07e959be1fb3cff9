"""tools/train.py end to end on the tiny embedded data with the real Runner
(CPU): killed and resumed, then tested; bad input as a one-line error;
--amp without a GPU; segmentation and classification; a distillation run
resumed to the same losses with its teacher evaluated once; a plain
student checkpoint as load_from."""
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.registry import MODELS

from kdtools.utils import load_config
from conftest import CONFIGS, ROOT, run_tool, tiny_det_body, write_config

STUDENT = 'det/gfl_r18-base16_fpn_12e_toydet.py'


def _losses(log_dir):
    """(iter, loss) pairs from the json scalars log of a run."""
    out = []
    for dirpath, _, files in os.walk(log_dir):
        for name in files:
            if name == 'scalars.json':
                with open(osp.join(dirpath, name)) as f:
                    for line in f:
                        rec = json.loads(line)
                        if 'loss' in rec:
                            out.append((rec['iter'], rec['loss']))
    return sorted(out)


def test_train_kill_resume_then_test(toy_data, tmp_path):
    cfg = write_config(tmp_path / 'det.py', STUDENT,
                       tiny_det_body(toy_data, max_epochs=3))
    work = tmp_path / 'work'
    # start training, kill it once the first epoch checkpoint is written
    proc = subprocess.Popen(
        [sys.executable, 'tools/train.py', cfg, '--work-dir', str(work)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if (work / 'epoch_1.pth').exists() and (work /
                                                'last_checkpoint').exists():
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (work / 'epoch_3.pth').exists()

    res = run_tool(['tools/train.py', cfg, '--work-dir', str(work),
                    '--resume'], check=True)
    log = res.stdout + res.stderr
    assert 'resumed' in log.lower() or 'Resumed' in log
    assert (work / 'epoch_3.pth').exists()
    # no temporary files are left beside the checkpoints
    assert not [n for n in os.listdir(work) if n.endswith('.tmp')]

    out = tmp_path / 'metrics.json'
    res = run_tool(['tools/test.py', cfg, str(work / 'epoch_3.pth'), '--out',
                    str(out), '--work-dir', str(tmp_path / 'test')],
                   check=True)
    metrics = json.loads(out.read_text())['metrics']
    assert 'coco/bbox_mAP' in metrics and 'coco/bbox_mAP_50' in metrics
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0


@pytest.mark.parametrize('case', ['config', 'data_root', 'empty', 'coco'])
def test_bad_input_is_one_line_error_before_training(toy_data, tmp_path,
                                                      case):
    work = tmp_path / 'work'
    if case == 'config':
        cfg = str(tmp_path / 'no_such_config.py')
        expect = 'no_such_config.py'
    else:
        data = tmp_path / 'data'
        os.makedirs(data / 'det' / 'annotations')
        os.makedirs(data / 'det' / 'train')
        os.makedirs(data / 'det' / 'val')
        src = osp.join(toy_data, 'det', 'annotations')
        for split in ('train', 'val'):
            with open(osp.join(src, f'instances_{split}.json')) as f:
                text = f.read()
            (data / 'det' / 'annotations' /
             f'instances_{split}.json').write_text(text)
        for split in ('train', 'val'):
            for name in os.listdir(osp.join(toy_data, 'det', split)):
                os.symlink(osp.join(toy_data, 'det', split, name),
                           data / 'det' / split / name)
        if case == 'data_root':
            data = tmp_path / 'missing'
            expect = str(data)
        elif case == 'empty':
            for name in os.listdir(data / 'det' / 'train'):
                os.remove(data / 'det' / 'train' / name)
            expect = 'is empty'
        else:
            (data / 'det' / 'annotations' /
             'instances_train.json').write_text(
                 json.dumps({'images': [{'id': 1, 'file_name': 'a.png'}],
                             'annotations': [{'image_id': 1, 'bbox': [1, 2],
                                              'category_id': 1}],
                             'categories': [{'id': 1, 'name': 'x'}]}))
            expect = 'instances_train.json'
        cfg = write_config(tmp_path / 'det.py', STUDENT,
                           tiny_det_body(str(data), max_epochs=1))
    res = run_tool(['tools/train.py', cfg, '--work-dir', str(work)])
    assert res.returncode == 2, res.stderr[-2000:]
    err_lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert len(err_lines) == 1, res.stderr
    assert err_lines[0].startswith('kdtools: error:')
    assert expect in err_lines[0]
    if case == 'coco':
        assert 'bbox [1, 2]' in err_lines[0]
    assert not osp.exists(work) or not [
        n for n in os.listdir(work) if n.endswith('.pth')]


def test_amp_without_gpu_is_clear_error(toy_data, tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip('a GPU is present: --amp is valid here')
    cfg = write_config(tmp_path / 'det.py', STUDENT, tiny_det_body(toy_data))
    res = run_tool(['tools/train.py', cfg, '--amp', '--work-dir',
                    str(tmp_path / 'w')])
    assert res.returncode == 2
    assert '--amp needs a CUDA device' in res.stderr


@pytest.mark.parametrize('config, data_body, metric', [
    ('seg/fcn_r18-base16-d8_2k_toyseg.py', """
data_root = {root!r}
train_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=4, val_interval=4)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=4, save_best=None))
""", 'mIoU'),
    ('cls/vit-tiny-p4_10e_toycls.py', """
data_root = {root!r}
train_dataloader = dict(batch_size=32, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=50, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=1, save_best=None))
""", 'accuracy/top1'),
])
def test_seg_and_cls_train_and_test(toy_data, tmp_path, config, data_body,
                                    metric):
    task = config.split('/')[0]
    root = osp.join(toy_data, task) + '/'
    cfg = write_config(tmp_path / 'cfg.py', config,
                       data_body.format(root=root))
    work = tmp_path / 'work'
    run_tool(['tools/train.py', cfg, '--work-dir', str(work)], check=True)
    with open(work / 'last_checkpoint') as f:
        ckpt = f.read().strip()
    out = tmp_path / 'metrics.json'
    run_tool(['tools/test.py', cfg, ckpt, '--out', str(out), '--work-dir',
              str(tmp_path / 'test')], check=True)
    metrics = json.loads(out.read_text())['metrics']
    assert metric in metrics and 0 <= metrics[metric] <= 100
    if task == 'cls':
        assert 'accuracy/top5' in metrics


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
