"""tools/train.py, tools/test.py and tools/dist_train.sh end to end on the
tiny embedded data with the real Runner (CPU)."""
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, run_tool, tiny_det_body, write_config

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


def test_test_tool_missing_checkpoint(toy_data, tmp_path):
    cfg = write_config(tmp_path / 'det.py', STUDENT, tiny_det_body(toy_data))
    res = run_tool(['tools/test.py', cfg, str(tmp_path / 'none.pth')])
    assert res.returncode == 2
    assert 'none.pth' in res.stderr and 'does not exist' in res.stderr


@pytest.mark.parametrize('tool', ['train.py', 'test.py', 'make_toy_data.py',
                                  'box_edge_stats.py', 'jitter_boxes.py',
                                  'dist_train.sh', 'dist_test.sh',
                                  'slurm_train.sh'])
def test_every_tool_has_help(tool):
    if tool.endswith('.sh'):
        res = subprocess.run(['bash', osp.join('tools', tool), '--help'],
                             cwd=ROOT, capture_output=True, text=True)
    else:
        res = run_tool([osp.join('tools', tool), '--help'])
    assert res.returncode == 0 and 'usage' in res.stdout.lower()
    assert len(res.stdout.splitlines()) >= 2


def test_dist_train_two_processes_gloo(toy_data, tmp_path):
    cfg = write_config(tmp_path / 'det.py', STUDENT,
                       tiny_det_body(toy_data, max_epochs=1))
    work = tmp_path / 'work'
    env = dict(os.environ, PYTHON=sys.executable, PORT='29531',
               OMP_NUM_THREADS='1')
    res = subprocess.run(
        ['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', str(work)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    assert 'gloo' in log.lower() or 'world_size: 2' in log.lower() or \
        'distributed: true' in log.lower()
    assert (work / 'epoch_1.pth').exists()


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


def test_bench_quality_paired_difference():
    """Seed-by-seed comparison the benchmark prints, on hand-computed
    values: diffs 0.02, -0.005, 0.02 -> mean 0.011667, sd 0.014434,
    t(0.975, 2 df) = 4.302653, half-width 4.302653 * 0.014434 / sqrt(3)."""
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    from bench_quality import format_paired, paired_difference
    p = paired_difference([0.10, 0.08, 0.09], [0.08, 0.085, 0.07])
    assert p['mean'] == pytest.approx(0.0116667, abs=1e-6)
    assert p['ci'] == pytest.approx(0.0358555, abs=1e-6)
    assert (p['wins'], p['n']) == (2, 3)
    assert format_paired(p) == '+0.012 ± 0.036 (2/3)'
    one = paired_difference([0.1], [0.2])
    assert one['wins'] == 0 and one['ci'] != one['ci']  # nan: one seed
    with pytest.raises(ValueError, match='2 values against 1 baseline'):
        paired_difference([0.1, 0.2], [0.1])


def test_bench_quality_epochs(tmp_path, monkeypatch, capsys):
    """``--epochs N`` trains every student row for N epochs (the cosine
    schedule ending at N), in its own work dir, against the teachers of the
    default schedule; other tasks refuse it."""
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    import bench_quality
    teachers, runs = [], []

    def train_teacher(config, tdir, tckpt, opts):
        teachers.append((tdir, opts))
        os.makedirs(tdir)
        with open(osp.join(tdir, 'teacher.json'), 'w') as f:
            json.dump(dict(metrics={'coco/bbox_mAP': 0.3}), f)

    def run_one(task, method, seed, work_dir, opts, tckpts,
                teacher_tag=None, eval_data=None):
        runs.append((method, seed, work_dir, opts))
        return 0.1 + 0.01 * (method == 'ld'), 1.0

    monkeypatch.setattr(bench_quality, 'train_teacher', train_teacher)
    monkeypatch.setattr(bench_quality, 'run_one', run_one)
    root = str(tmp_path / 'demo')
    bench_quality.main(['--epochs', '36', '--methods', 'student', 'ld',
                        '--seeds', '0', '1', '--work-dir', root])
    assert teachers == [(osp.join(root, 'teacher'), [])]
    assert {r[:3] for r in runs} == {(m, s, root + '_36e')
                                     for m in ('student', 'ld')
                                     for s in (0, 1)}
    assert all(r[3] == ['train_cfg.max_epochs=36',
                        'param_scheduler.1.end=36'] for r in runs)
    summary = json.loads(
        (tmp_path / 'demo_36e' / 'bench_quality_det.json').read_text())
    assert summary['epochs'] == 36
    assert summary['methods']['ld']['vs_baseline']['wins'] == 2
    with pytest.raises(SystemExit):
        bench_quality.main(['--task', 'seg', '--epochs', '36'])
    assert '--epochs 36 is for the detection tasks' in capsys.readouterr().err


def test_bench_quality_teacher_data(tmp_path, monkeypatch, capsys):
    """``--teacher-data DIR`` trains the detection teacher on DIR's training
    split (evaluated on --data's val), in its own folder; the runs that read
    it are kept apart from those of the usual teacher, the baseline's are
    shared; a folder without an embedded set is refused naming it."""
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    import bench_quality
    other = tmp_path / 'toy-seed1'
    ann = other / 'det' / 'annotations' / 'instances_train.json'
    teachers, tags = [], []

    def train_teacher(config, tdir, tckpt, opts):
        teachers.append((tdir, opts))
        os.makedirs(tdir)
        with open(osp.join(tdir, 'teacher.json'), 'w') as f:
            json.dump(dict(metrics={'coco/bbox_mAP': 0.3}), f)

    def run_one(task, method, seed, work_dir, opts, tckpts,
                teacher_tag=None, eval_data=None):
        tags.append((method, teacher_tag))
        return 0.1 + 0.01 * (method == 'ld'), 1.0

    monkeypatch.setattr(bench_quality, 'train_teacher', train_teacher)
    monkeypatch.setattr(bench_quality, 'run_one', run_one)
    root = str(tmp_path / 'demo')
    argv = ['--methods', 'student', 'ld', '--seeds', '0', '--work-dir', root,
            '--teacher-data', str(other)]
    with pytest.raises(SystemExit):
        bench_quality.main(argv)
    err = capsys.readouterr().err
    assert f'--teacher-data {other}: no {ann}' in err
    assert 'make_toy_data.py' in err and teachers == []

    ann.parent.mkdir(parents=True)
    ann.write_text('{}')
    bench_quality.main(argv)
    assert teachers == [(osp.join(root, 'teacher_toy-seed1'), [
        'train_dataloader.dataset.data_root=' + str(other / 'det') + '/'])]
    assert sorted(tags) == [('ld', 'toy-seed1'), ('student', 'toy-seed1')]
    summary = json.loads(
        (tmp_path / 'demo' / 'bench_quality_det_teacher-toy-seed1.json')
        .read_text())
    assert summary['teacher_data'] == str(other)

    # run names: a distilled row names its teacher's data, the baseline not
    for name in ('ld_teacher-toy-seed1_seed3', 'student_seed3'):
        (tmp_path / 'runs' / name).mkdir(parents=True)
        (tmp_path / 'runs' / name / 'metrics.json').write_text(json.dumps(
            dict(metrics={'coco/bbox_mAP': len(name) / 100}, train_s=1.0)))
    monkeypatch.undo()  # the real run_one, reusing the runs' metrics

    def train(*args):
        raise AssertionError(f'run_one trained {args}: no run to reuse')

    monkeypatch.setattr(bench_quality, 'train', train)
    for method, name in (('ld', 'ld_teacher-toy-seed1_seed3'),
                         ('student', 'student_seed3')):
        assert bench_quality.run_one(
            'det', method, 3, str(tmp_path / 'runs'), [], {},
            'toy-seed1') == (len(name) / 100, 1.0)

    with pytest.raises(SystemExit):
        bench_quality.main(['--task', 'seg', '--teacher-data', str(other)])
    assert '--teacher-data' in capsys.readouterr().err


def test_box_edge_stats_uniform_head(toy_data, tmp_path):
    """tools/box_edge_stats.py on a GFL head whose edge logits are all 0:
    every distribution is uniform over the reg_max + 1 bins, so entropy and
    DFL are both log(reg_max + 1) (DFL's two bin weights sum to 1), the
    expected edge is reg_max / 2 and the error at most that."""
    import math

    import torch
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    import box_edge_stats
    cfg = write_config(tmp_path / 'gfl.py',
                       'det/gfl_r18-base16_fpn_12e_toydet.py',
                       tiny_det_body(toy_data))
    from mmengine.registry import MODELS

    from kdtools.utils import load_config, register_all_modules
    register_all_modules()
    model_cfg = load_config(cfg).model
    model_cfg.backbone.init_cfg = None
    model = MODELS.build(model_cfg)
    torch.nn.init.zeros_(model.bbox_head.gfl_reg.weight)
    torch.nn.init.zeros_(model.bbox_head.gfl_reg.bias)
    ckpt = str(tmp_path / 'gfl.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    out = tmp_path / 'stats.json'
    box_edge_stats.main([cfg, ckpt, '--data', toy_data, '--out', str(out)])
    result = json.loads(out.read_text())
    bins = model.bbox_head.reg_max + 1
    assert result['max_entropy'] == pytest.approx(math.log(bins))
    for split in ('train', 'val'):
        stats = result['splits'][split]
        assert stats['positives'] > 0
        assert stats['entropy'] == pytest.approx(math.log(bins), abs=1e-5)
        assert stats['dfl'] == pytest.approx(math.log(bins), abs=1e-5)
        assert 0 < stats['edge_error'] <= (bins - 1) / 2
    # a non-GFL head is refused naming the config and what is expected
    frcnn = write_config(tmp_path / 'frcnn.py',
                         'det/faster-rcnn_r18-base16_fpn_12e_toydet.py',
                         tiny_det_body(toy_data))
    with pytest.raises(ValueError, match='expected a GFL-family head'):
        box_edge_stats.build_detector(frcnn, ckpt)


def test_bench_quality_eval_data(tmp_path, monkeypatch, capsys):
    """``--eval-data DIR`` scores every row and the teacher on DIR's val
    split: each plain model (a distilled run's exported student, a
    baseline's last checkpoint) is evaluated once into <run>/val-<folder>
    and reused after; a folder without a val split is refused naming it."""
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    import bench_quality
    big = tmp_path / 'toy-large'
    ann = big / 'det' / 'annotations' / 'instances_val.json'
    root = tmp_path / 'demo'
    evaluated = []

    def evaluate(config, checkpoint, work_dir, opts):
        evaluated.append((config, checkpoint, work_dir, opts))
        assert osp.isdir(work_dir)  # tools/test.py's log goes there
        metrics = {'coco/bbox_mAP': 0.5 if 'teacher' in work_dir else
                   0.2 + 0.01 * ('ld' in work_dir)}
        with open(osp.join(work_dir, 'metrics.json'), 'w') as f:
            json.dump(dict(metrics=metrics), f)
        return metrics

    def train(*args):
        raise AssertionError(f'trained {args}: every run exists')

    # a teacher and two finished runs, as an earlier benchmark left them
    tdir = root / 'teacher'
    tdir.mkdir(parents=True)
    (tdir / 'teacher.json').write_text(json.dumps(
        dict(metrics={'coco/bbox_mAP': 0.3})))
    for name in ('student_seed0', 'ld_seed0'):
        run = root / name
        run.mkdir()
        (run / 'metrics.json').write_text(json.dumps(
            dict(metrics={'coco/bbox_mAP': 0.1}, train_s=1.0)))
        (run / 'last_checkpoint').write_text(str(run / 'epoch_12.pth'))
    monkeypatch.setattr(bench_quality, 'evaluate', evaluate)
    monkeypatch.setattr(bench_quality, 'train', train)
    argv = ['--methods', 'student', 'ld', '--seeds', '0', '--work-dir',
            str(root), '--eval-data', str(big)]
    with pytest.raises(SystemExit):
        bench_quality.main(argv)
    assert f'--eval-data {big}: no {ann}' in capsys.readouterr().err
    ann.parent.mkdir(parents=True)
    ann.write_text('{}')
    bench_quality.main(argv)
    opts = ['train_dataloader.dataset.data_root=' + str(big / 'det') + '/']
    got = {osp.basename(osp.dirname(w)): (c, k, o[:1])
           for c, k, w, o in evaluated}
    assert got == {
        'teacher': (bench_quality.TEACHERS['det'], str(
            tdir / 'gfl_mobilenetv2_fpn_12e_toydet.pth'), opts),
        'student_seed0': (bench_quality.METHODS['det']['student'][0],
                          str(root / 'student_seed0' / 'epoch_12.pth'), opts),
        'ld_seed0': (str(root / 'ld_seed0' / 'student_exported.py'),
                     str(root / 'ld_seed0' / 'student_exported.pth'), opts)}
    assert all(osp.basename(w) == 'val-toy-large' for _, _, w, _ in evaluated)
    summary = json.loads((root / 'bench_quality_det_val-toy-large.json')
                         .read_text())
    assert summary['teacher'] == 0.5
    assert summary['methods']['ld']['values'] == [pytest.approx(0.21)]
    assert 'on ' + str(big) + ',' in capsys.readouterr().out
    evaluated.clear()  # evaluated once: a second call reuses every figure
    bench_quality.main(argv)
    assert evaluated == []


def test_bench_quality_resumes_a_cut_off_run_and_tells_a_peer_its_teacher(
        tmp_path, monkeypatch):
    """A run folder with a checkpoint but no metrics (cut off, or trained
    and not evaluated) is resumed, not started over, and its training time
    is unknown; a peer's distillation detector (mmdet's LD) is told where
    its teacher is when trained and when tested, since it loads it to
    predict too."""
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    import bench_quality
    trained, evaluated = [], []

    def train(config, run_dir, seed, opts, resume=False):
        trained.append((osp.basename(run_dir), opts, resume))
        return osp.join(run_dir, 'epoch_36.pth'), 5.0

    def evaluate(config, checkpoint, work_dir, opts):
        evaluated.append((osp.basename(work_dir), opts))
        with open(osp.join(work_dir, 'metrics.json'), 'w') as f:
            json.dump(dict(metrics={'coco/bbox_mAP': 0.2}), f)

    monkeypatch.setattr(bench_quality, 'train', train)
    monkeypatch.setattr(bench_quality, 'evaluate', evaluate)
    cut = tmp_path / 'mmdet-ld_seed0'
    cut.mkdir()
    (cut / 'last_checkpoint').write_text(str(cut / 'epoch_20.pth'))
    (tmp_path / 'student_seed0').mkdir()
    ckpts = {'teacher': 'work/teacher.pth'}
    for method in ('mmdet-ld', 'student'):
        assert bench_quality.run_one('det', method, 0, str(tmp_path),
                                     ['x=1'], ckpts) == (0.2, None if
                                                         method == 'mmdet-ld'
                                                         else 5.0)
    teacher = 'model.teacher_ckpt=work/teacher.pth'
    assert trained == [('mmdet-ld_seed0', ['x=1', teacher], True),
                       ('student_seed0', ['x=1'], False)]
    assert evaluated == [('mmdet-ld_seed0', ['x=1', teacher]),
                         ('student_seed0', ['x=1'])]
