"""tools/analysis_tools/benchmark.py: the overhead ratio is the last line
and in the JSON; an adversarial distillation's critic step is counted; the
baselines are the plain models as their own configs build them, and the
teacher work a method needs (the RoI head on the student's RoIs) is
attributed to the teacher phase (issue 22)."""
import importlib.util
import json
import os.path as osp
import sys

import pytest
import torch
from torch import nn

from conftest import ROOT, run_tool, tiny_det_body, write_config
from _helpers.seg import CONFIGS, make_teacher_ckpt, seg_body

CHEN_TWO_STAGE = \
    'det/chen17/chen17_faster-rcnn-mbv2_to_faster-rcnn-r18-base16_12e_toydet.py'


def _benchmark_module():
    path = osp.join(ROOT, 'tools/analysis_tools/benchmark.py')
    spec = importlib.util.spec_from_file_location('kd_benchmark', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault('kd_benchmark', module)
    spec.loader.exec_module(module)
    return module


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
    parts = figures['parts_median_s']
    assert {'b_plain_teacher_forward', 'b_distiller_teachers',
            'b_distiller_record_teachers',
            'b_head_distiller_teacher_calls'} <= set(parts)
    # hint: no head distillers, so no teacher work outside the forward
    assert parts['b_head_distiller_teacher_calls'] == 0
    assert figures['median_s']['b_teacher_forward'] == pytest.approx(
        parts['b_plain_teacher_forward'])
    for name in ('a_student_step', 'b_plain_teacher_forward',
                 'b_distiller_teachers', 'c_distill_step'):
        assert f'{name} ' in res.stdout
        assert name in figures['peak_memory_delta_mb']


def test_two_stage_teacher_roi_head_is_teacher_work(toy_data, tmp_path):
    path = write_config(tmp_path / 'chen.py', CHEN_TWO_STAGE,
                        tiny_det_body(toy_data, max_epochs=1))
    out = tmp_path / 'bench.json'
    run_tool(['tools/analysis_tools/benchmark.py', path, '--iters', '1',
              '--warmup', '1', '--batches', '1', '--random-teacher',
              '--json', str(out)], check=True)
    figures = json.loads(out.read_text())
    parts = figures['parts_median_s']
    # the teacher's RoI head on the student's RoIs, counted as teacher work
    assert parts['b_head_distiller_teacher_calls'] > 0
    assert figures['median_s']['b_teacher_forward'] == pytest.approx(
        parts['b_plain_teacher_forward'] +
        parts['b_head_distiller_teacher_calls'])


class _FakeDistiller(nn.Module):
    """A teacher run in ``_record_teachers`` and called again afterwards
    (as the head distillers call the teacher's RoI head)."""

    def __init__(self):
        super().__init__()
        teacher = nn.Sequential(nn.Linear(2, 2), nn.Sequential(
            nn.Linear(2, 2), nn.ReLU()))
        object.__setattr__(self, 'teacher_models', dict(t=teacher))

    def _record_teachers(self, x):
        return self.teacher_models['t'](x)

    def step(self, x):
        self._record_teachers(x)
        self.teacher_models['t'][1](x)  # one outermost call: 2 ticks
        self.teacher_models['t'][1][0](x)  # another: 2 ticks


def test_teacher_timer_attributes_teacher_calls_with_a_mocked_clock():
    bench = _benchmark_module()
    ticks = iter(range(1000))
    model = _FakeDistiller()
    timer = bench.TeacherTimer(model, clock=lambda: float(next(ticks)))
    with timer:
        model.step(torch.zeros(1, 2))
        record_s, calls_s = timer.take()
    # _record_teachers: 2 clock reads (1 tick); two outermost calls outside
    # it, each 2 reads (1 tick), nested modules not counted twice
    assert (record_s, calls_s) == (1.0, 2.0)
    assert timer.take() == (0., 0.)
    assert '_record_teachers' not in vars(model)  # restored
    assert not model.teacher_models['t'][1]._forward_hooks


def test_plain_teacher_is_unmodified(tmp_path):
    from mmengine.registry import MODELS

    from _helpers.det import distiller_cfg, make_teacher_ckpt as det_ckpt
    from kdtools.models.distillers.teacher_inference import inplace_modules

    class _Factory:
        def mktemp(self, name):
            return tmp_path
    cfg = distiller_cfg(det_ckpt(_Factory()), teacher_channels_last=True)
    bench = _benchmark_module()
    (plain, ) = bench.plain_teachers(cfg, 'cpu').values()
    distiller = MODELS.build(cfg)
    (modified, ) = distiller.teacher_models.values()
    # the Distiller's teacher: hooks, fewer in-place, channels_last
    assert len(inplace_modules(modified)) < len(inplace_modules(plain))
    assert len(inplace_modules(plain)) == 39
    assert not any(m._forward_hooks for m in plain.modules())
    assert all(p.is_contiguous() for p in plain.parameters())
    assert not plain.training and not any(
        p.requires_grad for p in plain.parameters())
    student = bench.plain_student(cfg, None, 'cpu')
    assert len(inplace_modules(student)) == 13
    assert not any(m._forward_hooks for m in student.modules())


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


def test_teacher_timer_counts_layers_nested_at_any_depth():
    """CrossKD's cross-head forward calls teacher layers three levels down
    (``bbox_head.cls_convs.1``) outside ``_record_teachers``: counted as
    teacher work (hooks at two levels missed them)."""
    bench = _benchmark_module()
    ticks = iter(range(1000))
    model = _FakeDistiller()
    deep = nn.Sequential(nn.Sequential(nn.Sequential(nn.Linear(2, 2))))
    model.teacher_models['t'] = deep
    timer = bench.TeacherTimer(model, clock=lambda: float(next(ticks)))
    with timer:
        deep[0][0][0](torch.zeros(1, 2))  # 'bbox_head.cls_convs.1'-like
        assert timer.take() == (0., 1.0)
    assert not deep[0][0][0]._forward_hooks
