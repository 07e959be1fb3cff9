"""tools/analysis_tools/bench_quality.py: the paired seed-by-seed
comparison, --epochs, --teacher-data, --eval-data, resuming a cut-off run
(training and evaluation replaced by stand-ins)."""
import json
import os
import os.path as osp
import sys

import pytest

from conftest import ROOT


def test_bench_quality_paired_difference():
    """Seed-by-seed comparison the benchmark prints, on hand-computed
    values: diffs 0.02, -0.005, 0.02 -> mean 0.011667, sd 0.014434,
    t(0.975, 2 df) = 4.302653, half-width 4.302653 * 0.014434 / sqrt(3)."""
    sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
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
    sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
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
    sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
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


def test_bench_quality_eval_data(tmp_path, monkeypatch, capsys):
    """``--eval-data DIR`` scores every row and the teacher on DIR's val
    split: each plain model (a distilled run's exported student, a
    baseline's last checkpoint) is evaluated once into <run>/val-<folder>
    and reused after; a folder without a val split is refused naming it."""
    sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
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
    sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
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
