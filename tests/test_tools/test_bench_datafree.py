"""tools/analysis_tools/bench_datafree.py: the rows and their config
overrides, the iteration times and validation curve read from mmengine's
scalars, the two SSD-KD claims on hand-made records, and the table
(training replaced by stand-ins)."""
import json
import os
import os.path as osp
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
import bench_datafree  # noqa: E402


def test_rows_are_shipped_configs_with_their_overrides():
    for task, rows in bench_datafree.ROWS.items():
        assert list(rows)[:2] == ['student', 'kd']
        for row in rows:
            config, opts = bench_datafree.row_options(task, row)
            assert osp.isfile(osp.join(ROOT, config)), config
        # SSD-KD at Fast's budget: the Fast config's budget, 10x SSD-KD's
        fast = bench_datafree.config_value(rows['fast'][0], 'model.budget')
        ssd = bench_datafree.config_value(rows['ssd-kd'][0], 'model.budget')
        assert fast == 10 * ssd
        same = bench_datafree.row_options(task, 'ssd-kd-same')[1]
        assert same[0] == f'model.budget={fast}'
        rounds = bench_datafree.option_value(rows['ssd-kd'][0], [],
                                             'model.synthesis.rounds')
        # with the rounds set, batches that make Fast's budget in them
        assert same[1:] == ([] if rounds is None else [
            f'model.synthesis.batch_size={-(-fast // rounds)}'])
        assert 'model.buffer.sampling=uniform' in bench_datafree.row_options(
            task, 'ssd-kd-no-priority')[1]
        # the ablation pins every setting it compares: R0 = ceil(S0 / B0)
        budget, batch = (bench_datafree.ABLATION_BASE[task][k]
                         for k in ('budget', 'batch'))
        r0 = -(-budget // batch)
        opts = dict(o.split('=', 1) for o in bench_datafree.row_options(
            task, 'ssd-kd-w-max')[1])
        assert opts['model.buffer.weight_norm'] == 'max'
        assert opts['model.synthesis.rounds'] == 'None'
        assert opts['model.budget'] == opts['model.buffer_size'] == str(
            budget)
        opts = dict(o.split('=', 1) for o in bench_datafree.row_options(
            task, 'ssd-kd-x10-updates-small')[1])
        assert opts['model.synthesis.rounds'] == str(10 * r0)
        assert opts['model.synthesis.batch_size'] == str(
            -(-budget // (10 * r0)))
        assert opts['model.buffer.weight_norm'] == 'batch_mean'
        opts = dict(o.split('=', 1) for o in bench_datafree.row_options(
            task, 'ssd-kd-x10-lowest')[1])
        assert opts['model.budget'] == str(10 * budget)
        assert opts['model.buffer_size'] == str(budget)
        assert opts['model.buffer.evict'] == 'lowest_priority'


def test_scalars_times_and_curve(tmp_path):
    """Training entries (those with a learning rate) give the seconds per
    iteration, validation entries the curve; the curve's third column is
    the training seconds up to that iteration."""
    vis = tmp_path / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    lines = [dict(step=1, time=2.0, **{'student.lr': 0.1}),  # warm-up round
             dict(step=2, time=0.5, loss=1.0, **{'student.lr': 0.1}),
             {'accuracy/top1': 20.0, 'data_time': 0.1, 'time': 0.2,
              'step': 2},
             dict(step=3, time=0.25, loss=0.9, **{'student.lr': 0.1}),
             {'accuracy/top1': 30.0, 'data_time': 0.1, 'time': 0.2,
              'step': 3}]
    (vis / 'scalars.json').write_text(
        '\n'.join(json.dumps(x) for x in lines))
    times, curve = bench_datafree.read_scalars(str(tmp_path),
                                               'accuracy/top1')
    assert times == {1: 2.0, 2: 0.5, 3: 0.25}
    assert curve == [(2, 20.0), (3, 30.0)]


def test_final_weight_scale(tmp_path):
    """``mean w`` = sum_x P(x) (N P(x))^-beta / max_x' (N P(x'))^-beta with
    the run's last priorities and beta; 1 for uniform sampling and for the
    batch-mean normalisation."""
    import torch
    run = tmp_path / 'run'
    run.mkdir()
    pr = torch.tensor([0.5, 0.1, 2.0, 0.0, 9.0])  # slot 4: beyond size
    state = {'buffer.priorities': pr, 'buffer.size': torch.tensor(4),
             'beta': torch.tensor(1.0, dtype=torch.float64)}
    torch.save(dict(state_dict=state), str(run / 'iter_9.pth'))
    (run / 'last_checkpoint').write_text(str(run / 'iter_9.pth'))
    p = (pr[:4] + 1e-6) ** 0.6
    probs = p / p.sum()
    w = (4 * probs) ** -1.0
    got = bench_datafree.final_weight_scale('cls', 'ssd-kd-w-max', str(run))
    assert got['mean_w'] == pytest.approx(float((probs * w / w.max()).sum()),
                                          rel=1e-6)
    assert got['p_ratio'] == pytest.approx(float(probs.max() / probs.min()),
                                           rel=1e-6)
    for row in ('ssd-kd', 'ssd-kd-no-priority', 'fast', 'ssd-kd-w-batch-mean',
                'ssd-kd-w-none', 'ssd-kd-x10-fifo'):
        assert bench_datafree.final_weight_scale('cls', row, str(run))[
            'mean_w'] == 1.0


def _rec(metric, curve=(), train_s=100.0, images=None):
    return dict(metric=metric, curve=list(curve), train_iter_s=train_s,
                wall_s=train_s + 10, synthesised=images, synthesis_s=1.0)


def test_claims_on_hand_made_records(capsys):
    """Claim 1 holds when SSD-KD's mean is at least Fast's mean minus
    Fast's std; claim 2 is, per seed, the training seconds until SSD-KD's
    curve first reaches the Fast run's final metric over Fast's seconds."""
    records = {('fast', 0): _rec(50.0, train_s=200.0, images=3200),
               ('fast', 1): _rec(54.0, train_s=400.0, images=3200),
               ('ssd-kd', 0): _rec(51.0, [(10, 40.0, 20.0), (20, 50.0, 50.0),
                                          (30, 51.0, 80.0)], images=320),
               ('ssd-kd', 1): _rec(49.0, [(10, 45.0, 20.0), (20, 49.0, 50.0)],
                                   images=320)}
    out = bench_datafree.claims('cls', records, [0, 1], ['fast', 'ssd-kd'])
    # Fast 52 ± 2.83, SSD-KD 50 >= 49.17
    assert out['claim1']['holds']
    assert out['claim2_ratios'] == [pytest.approx(50.0 / 200.0), None]
    printed = capsys.readouterr().out
    assert '320 synthetic images (Fast: 3200)' in printed
    assert 'holds' in printed and 'never' in printed
    records[('ssd-kd', 1)]['metric'] = 40.0  # mean 45.5 < 49.17
    assert not bench_datafree.claims('cls', records, [0, 1],
                                     ['fast', 'ssd-kd'])['claim1']['holds']
    assert bench_datafree.time_to_reach(records[('ssd-kd', 0)], 51.0) == 80.0


def test_table_and_summary(tmp_path, monkeypatch, capsys):
    """The whole table from stand-in runs: the teacher is trained when its
    metrics are missing, every row x seed runs once, the summary has every
    row; an unknown row is refused naming the task's rows."""
    teachers, runs = [], []

    def train_teacher(config, tdir, tckpt, opts):
        teachers.append(tdir)
        os.makedirs(tdir)
        with open(osp.join(tdir, 'teacher.json'), 'w') as f:
            json.dump(dict(metrics={'accuracy/top1': 67.0}), f)

    def run_one(task, row, seed, work_dir, tckpt, val_points):
        runs.append((row, seed))
        images = None if row in ('student', 'kd') else 320
        return _rec(50.0 + seed + (row == 'ssd-kd'),
                    [(400, 52.0 + seed, 90.0)], images=images)

    monkeypatch.setattr(bench_datafree, 'train_teacher', train_teacher)
    monkeypatch.setattr(bench_datafree, 'run_one', run_one)
    monkeypatch.setattr(bench_datafree, 'final_weight_scale',
                        lambda task, row, run_dir: dict(mean_w=0.5,
                                                        p_ratio=2.0))
    root = str(tmp_path / 'demo')
    bench_datafree.main(['--task', 'cls', '--seeds', '0', '1',
                         '--work-dir', root])
    assert teachers == [osp.join(root, 'cls_teacher_r32')]
    assert sorted(runs) == sorted((r, s) for r in bench_datafree.ROWS['cls']
                                  for s in (0, 1))
    summary = json.loads(
        (tmp_path / 'demo' / 'bench_datafree_cls.json').read_text())
    assert set(summary['rows']) == set(bench_datafree.ROWS['cls'])
    assert summary['teacher'] == 67.0
    assert summary['claims']['claim2_ratios'] == [0.9, 0.9]
    out = capsys.readouterr().out
    assert 'ssd-kd-no-priority' in out and 'real' in out
    with pytest.raises(SystemExit):
        bench_datafree.main(['--task', 'seg', '--rows', 'fast3'])
    assert "unknown rows ['fast3']" in capsys.readouterr().err
