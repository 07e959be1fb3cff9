"""tools/misc/kd_cycles.py: two tiny cycles give two checkpoints and a
table; fewer than one cycle is refused."""
import os.path as osp

from _helpers.cls import CONFIGS, ROOT


def test_two_tiny_cycles_give_two_checkpoints_and_a_table(
        toy_data, teacher_ckpts, tmp_path):
    import json
    from conftest import run_tool
    root = osp.join(toy_data, 'cls') + '/'
    work = tmp_path / 'cycles'
    opts = [f'{k}.dataset.data_root={root}' for k in (
        'train_dataloader', 'val_dataloader', 'test_dataloader')] + [
        'train_dataloader.batch_size=8', 'train_cfg.max_epochs=1',
        'model.teachers.cnn.checkpoint='
        + teacher_ckpts['resnet18-base32_10e_toycls.py']]
    res = run_tool(['tools/misc/kd_cycles.py', osp.join(ROOT, CONFIGS[
        'deit-hard-1']), '--cycles', '2', '--mode', 'join', '--work-dir',
        str(work), '--cfg-options'] + opts, timeout=900, check=True)
    with open(work / 'cycles.json') as f:
        table = json.load(f)['cycles']
    assert [r['cycle'] for r in table] == [1, 2]
    assert table[0]['teachers'] == ['cnn']
    assert table[1]['teachers'] == ['cnn', 'cycle1']
    for r in table:
        assert osp.isfile(r['checkpoint']) and osp.isfile(r['student'])
        assert 0 <= r['metrics']['accuracy/top1'] <= 100
    assert table[0]['checkpoint'] != table[1]['checkpoint']
    # the printed table: one line per cycle
    lines = [line for line in res.stdout.splitlines()
             if line.startswith(('    1  ', '    2  '))]
    assert len(lines) == 2 and 'cycle1' in lines[1]


def test_cycle_count_below_one_is_refused(tmp_path):
    from conftest import run_tool
    res = run_tool(['tools/misc/kd_cycles.py', osp.join(ROOT, CONFIGS['kd']),
                    '--cycles', '0', '--work-dir', str(tmp_path / 'w')])
    assert res.returncode == 2
    assert '--cycles 0: expected at least 1 cycle' in res.stderr
    assert not (tmp_path / 'w').exists()
