"""tools/analysis_tools/benchmark.py: the overhead ratio is the last line
and in the JSON; an adversarial distillation's critic step is counted."""
import json

import pytest

from conftest import run_tool, write_config
from _helpers.seg import CONFIGS, make_teacher_ckpt, seg_body


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """A random-weight checkpoint of the SKD configs' teacher."""
    return make_teacher_ckpt(tmp_path_factory)


def test_benchmark_prints_overhead_ratio_last(distill_cfg, tmp_path):
    out = tmp_path / 'bench.json'
    res = run_tool(['tools/analysis_tools/benchmark.py', distill_cfg,
                    '--iters', '2', '--warmup', '1', '--batches', '2',
                    '--random-teacher', '--json', str(out)], check=True)
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith('overhead ratio c / (a + b): ')
    ratio = float(last.rsplit(' ', 1)[1])
    figures = json.loads(out.read_text())
    assert figures['overhead_ratio'] == pytest.approx(ratio, abs=1e-3)
    assert set(figures['median_s']) == {'a_student_step',
                                        'b_teacher_forward', 'c_distill_step'}
    assert all(v > 0 for v in figures['peak_memory_mb'].values())


def test_benchmark_counts_the_critic_step(toy_data, teacher_ckpt, tmp_path):
    path = write_config(tmp_path / 'ho.py', CONFIGS['pi-pa-ho'],
                        seg_body(toy_data, teacher_ckpt))
    out = tmp_path / 'bench.json'
    res = run_tool(['tools/analysis_tools/benchmark.py', path, '--iters',
                    '1', '--warmup', '1', '--batches', '1', '--json',
                    str(out)], check=True)
    assert res.stdout.strip().splitlines()[-1].startswith('overhead ratio')
    import json
    figures = json.loads(out.read_text())
    assert figures['median_s']['c_distill_step'] > 0
