"""tools/analysis_tools/speed_regression.py: the compared figures and the
table from two runs' JSONs (the runs themselves are benchmarks, not
tests); each version is timed by the same harness with its own kdtools
first on the path."""
import importlib.util
import os.path as osp
from unittest import mock

from conftest import ROOT


def load():
    path = osp.join(ROOT, 'tools', 'analysis_tools', 'speed_regression.py')
    spec = importlib.util.spec_from_file_location('kd_speed_reg', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench(c, a):
    return dict(median_s=dict(c_distill_step=c, a_student_step=a))


def test_row_cancels_drift_with_the_student_step():
    tool = load()
    # the machine 10% slower in the second run, the method unchanged
    r = tool.row('configs/x/y.py', bench(0.2, 0.1), bench(0.22, 0.11))
    assert abs(r['change']) < 1e-12
    assert r['c_before_ms'] == 200 and abs(r['c_after_ms'] - 220) < 1e-9
    # the step 20% cheaper at the same student step
    r = tool.row('configs/x/y.py', bench(0.2, 0.1), bench(0.16, 0.1))
    assert abs(r['change'] + 0.2) < 1e-12
    line = tool.table([r]).splitlines()[-1]
    assert line == ('| `y.py` | 200.0 ms | 160.0 ms | 100.0 ms | 100.0 ms '
                    '| 2.000 | 1.600 | -20.0% |')


def test_each_version_imports_its_own_kdtools(tmp_path):
    tool = load()
    out = tmp_path / 'r.json'
    out.write_text('{"median_s": {}}')
    with mock.patch.object(tool.subprocess, 'run') as run:
        tool.run_benchmark('/old/tree', 'configs/a.py', str(out), 7)
    cmd, kw = run.call_args.args[0], run.call_args.kwargs
    # this file's harness for both versions, the old tree first on the path
    assert cmd[1:3] == [tool.HERE, '-']
    assert cmd[3:] == ['/old/tree/configs/a.py', '--child', '/old/tree',
                       '--iters', '7', '--warmup', '3', '--json', str(out)]
    assert kw['env']['PYTHONPATH'] == '/old/tree' and kw['cwd'] == ROOT


def test_row_over_repeats_takes_medians():
    tool = load()
    before = [bench(0.2, 0.1), bench(0.3, 0.1), bench(0.21, 0.1)]
    after = [bench(0.18, 0.1), bench(0.15, 0.1), bench(0.4, 0.2)]
    r = tool.row('c.py', before, after)
    assert r['runs'] == 3
    assert abs(r['c_before_ms'] - 210) < 1e-9
    assert abs(r['c_over_a_before'] - 2.1) < 1e-9
    assert abs(r['c_over_a_after'] - 1.8) < 1e-9  # of 1.8, 1.5, 2.0
