"""tools/misc/run_demo.py and tools/analysis_tools/bench_quality.py show
what a training run is at (stage i/N, epoch i/N, ETA, last loss, each
validation's metric) from the child's mmengine log lines, while its full
output still goes to the run's log file."""
import json
import os
import os.path as osp
import sys

from conftest import ROOT

sys.path.insert(0, osp.join(ROOT, 'tools', 'misc'))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))

PREFIX = '12/02 09:50:21 - mmengine - INFO - '
TRAIN = (PREFIX + 'Epoch(train) [{e}][{i}/4]  lr: 2.0000e-03  eta: 0:00:{s:02d}'
         '  time: 0.4288  data_time: 0.0149  grad_norm: 0.9598  loss: {loss}'
         '  loss_cls: 0.0016  loss_bbox: 1.4114  loss_dfl: 0.5202')
VAL = (PREFIX + 'Epoch(val) [{e}][2/2]    coco/bbox_mAP: 0.1230  '
       'coco/bbox_mAP_50: 0.2000  data_time: 0.0088  time: 0.0851')


def test_progress_one_line_per_epoch_with_eta_and_loss():
    from run_demo import Progress
    p = Progress('stage 2/3: student, seed 0', max_epochs=12)
    lines = [TRAIN.format(e=e, i=i, s=10 - e, loss=f'{2 - e / 10:.4f}')
             for e in (1, 2) for i in (1, 2, 3, 4)]
    notes = [p.feed(ln, now=0.0) for ln in lines]
    assert notes[0] == ('  [stage 2/3: student, seed 0] epoch 1/12 (iter '
                        '1/4), eta 0:00:09, loss 1.9000')
    assert notes[1:4] == [None] * 3  # same epoch, not yet due
    assert notes[4].endswith('epoch 2/12 (iter 1/4), eta 0:00:08, '
                             'loss 1.8000')
    # a long epoch still reports every ``every_s`` seconds
    assert p.feed(lines[5], now=31.0) is not None
    assert p.feed(VAL.format(e=2)) == ('  [stage 2/3: student, seed 0] val '
                                       'after epoch 2: coco/bbox_mAP 0.1230')
    assert p.feed(PREFIX + 'Saving checkpoint at 2 epochs') is None
    it = Progress('x')
    assert it.feed(PREFIX + 'Iter(train) [  10/2000]  lr: 1e-2  eta: 0:05:00'
                   '  loss: 0.5000') == \
        '  [x] iter 10/2000, eta 0:05:00, loss 0.5000'


def test_sh_streams_progress_and_keeps_the_full_log(tmp_path, capsys):
    from run_demo import Progress, sh
    lines = [TRAIN.format(e=e, i=1, s=0, loss='1.0000') for e in (1, 2)] + \
        ['other output']
    code = 'import sys\nfor ln in %r: print(ln, flush=True)' % lines
    log = tmp_path / 'train_stdout.log'
    sh(['-c', code], log=str(log), progress=Progress('stage 1/1: t', 2))
    notes = [ln for ln in capsys.readouterr().out.splitlines()
             if ln.startswith('  [')]
    assert len(notes) == 2
    assert notes[0].startswith('  [stage 1/1: t] epoch 1/2')
    assert notes[1].startswith('  [stage 1/1: t] epoch 2/2')
    assert log.read_text().splitlines() == lines


def test_run_demo_and_bench_quality_label_the_stages(tmp_path, monkeypatch):
    """Each training still to run gets "stage i/N: <what>" (reused runs
    are not counted)."""
    import bench_quality
    import run_demo
    seen = []

    def train(config, work_dir, seed, opts, resume=False):
        seen.append(run_demo.STAGE_LABELS.get(work_dir))
        return 'last.pth', 1.0

    def train_teacher(config, tdir, tckpt, opts):
        train(config, osp.join(tdir, 'run'), 0, opts)
        os.makedirs(tdir, exist_ok=True)
        with open(osp.join(tdir, 'teacher.json'), 'w') as f:
            json.dump(dict(metrics={'coco/bbox_mAP': 0.3}, train_s=1), f)

    def run_one(task, method, seed, work_dir, opts, tckpts,
                teacher_tag=None, eval_data=None):
        run_dir = bench_quality.run_dir_of(task, method, seed, work_dir,
                                           teacher_tag)
        train(None, run_dir, seed, opts)
        return 0.1, 1.0

    monkeypatch.setattr(run_demo, 'STAGE_LABELS', {})
    monkeypatch.setattr(bench_quality, 'STAGE_LABELS', run_demo.STAGE_LABELS)
    monkeypatch.setattr(bench_quality, 'train_teacher', train_teacher)
    monkeypatch.setattr(bench_quality, 'run_one', run_one)
    root = str(tmp_path / 'demo')
    done = osp.join(root, 'ld_seed1')
    os.makedirs(done)
    with open(osp.join(done, 'metrics.json'), 'w') as f:
        json.dump(dict(metrics={'coco/bbox_mAP': 0.1}), f)
    bench_quality.main(['--methods', 'student', 'ld', '--seeds', '0', '1',
                        '--work-dir', root])
    assert seen == ['stage 1/4: teacher', 'stage 2/4: student, seed 0',
                    'stage 3/4: ld, seed 0', 'stage 4/4: student, seed 1',
                    None]  # ld seed 1 was done: its stand-in has no label

    # run_demo: the teacher (when trained) and two students per seed
    seen.clear()
    monkeypatch.setattr(run_demo, 'STAGE_LABELS', {})
    monkeypatch.setattr(run_demo, 'train', train)
    monkeypatch.setattr(run_demo, 'sh', lambda *a, **k: None)
    monkeypatch.setattr(run_demo, 'evaluate',
                        lambda *a, **k: {'coco/bbox_mAP': 0.2})
    monkeypatch.setattr(run_demo, 'params_and_speed', lambda *a: (1, 0.01))
    monkeypatch.setattr(run_demo, 'flops_of', lambda *a: (2e9, 3e6))

    def demo_teacher(config, tdir, tckpt, opts):
        train(config, osp.join(tdir, 'run'), 0, opts)
        os.makedirs(tdir, exist_ok=True)
        with open(osp.join(tdir, 'teacher.json'), 'w') as f:
            json.dump(dict(metrics={'coco/bbox_mAP': 0.3}, train_s=1), f)
    monkeypatch.setattr(run_demo, 'train_teacher', demo_teacher)
    run_demo.main(['--work-dir', str(tmp_path / 'rd'), '--seeds', '0',
                   '--retrain-teacher'])
    assert seen == ['stage 1/3: teacher', 'stage 2/3: student, seed 0',
                    'stage 3/3: student + hint KD, seed 0']
