#!/usr/bin/env python
"""Time a distillation config against its parts, in one process, on the
same batches, with the peak memory of each phase (CUDA: max allocated;
CPU: the process's peak RSS, reset before each phase, and its rise over
the RSS at the start of the phase):

- (a) ``a_student_step``: a training step of the plain student, as its own
  config builds it (its data preprocessor included: the one preprocessing
  a distillation step also runs);
- (b) ``b_teacher_forward``: the plain teacher(s), as their own configs
  build them (no recorders, in-place activations and layout as configured,
  the teacher's checkpoint or random weights), run as far as the method
  reads them (backbone, neck, the dense head for LD), plus the teacher
  computations the head distillers run on the student's outputs (two-stage
  Chen: the teacher's RoI head on the student's RoIs; CrossKD: the
  cross-head forward, the student's tower features through the teacher's
  remaining tower convs and predictors), timed inside the distillation
  step since they need it; a teacher's own preprocessing only where it
  differs from the student's;
- ``b_distiller_teachers`` (reported, not in the ratio): what the
  Distiller runs for its teachers in a step, ``_record_teachers`` (with the
  ``teacher_inputs`` its data preprocessor gives) plus those head-distiller
  teacher calls, at the Distiller's inference setting;
- (c) ``c_distill_step``: the full distillation training step.

The last line is the overhead ratio c / (a + b): what the recorders,
adapters and distillation losses cost beyond running the two plain models.

With ``--peer CONFIG`` it also times (d) the training step of another
toolbox's model for the same method (e.g. mmdet's LD detector) on the same
batches, and the last line is then the speed ratio c / d (at most 1.0: no
slower than the peer).

Examples:
    python tools/analysis_tools/benchmark.py configs/det/hint/CONFIG.py \
        --iters 20
    python tools/analysis_tools/benchmark.py \
        configs/det/ld/ld_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py \
        --peer configs/det/ld/mmdet-ld_gfl-mbv2_to_gfl-r18-base16_12e_toydet.py
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Time (a) a student-only training step, (b) the teacher '
        'forward, (c) the full distillation step on the same batches, with '
        'peak memory; print the overhead ratio c / (a + b) last.')
    parser.add_argument('config', help='a distillation config')
    parser.add_argument('--iters', type=int, default=20,
                        help='timed iterations per phase')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--batches', type=int, default=4,
                        help='distinct batches cycled through')
    parser.add_argument('--device', default=None,
                        help='cpu or cuda (default: cuda if available)')
    parser.add_argument('--json', help='write the figures here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={})
    parser.add_argument('--peer', help='a config of the same method in '
                        'another toolbox (an mmdet model) to time as (d)')
    parser.add_argument('--random-teacher', action='store_true',
                        help='build the teacher with random weights (no '
                        'checkpoint needed; timing only)')
    return parser.parse_args(argv)


class PeakMemory:
    """Peak memory of a phase: CUDA max allocated, or peak RSS on CPU
    (Linux: VmHWM, reset through /proc/self/clear_refs); ``delta_mb`` is
    the rise of that peak over the memory in use when the phase started."""

    def __init__(self, device):
        self.cuda = device.startswith('cuda')
        self.start = float('nan')

    def reset(self):
        import torch
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated() / 2**20
        else:
            try:
                with open('/proc/self/clear_refs', 'w') as f:
                    f.write('5')
            except OSError:
                pass
            self.start = self._status('VmRSS:')

    @staticmethod
    def _status(key: str) -> float:
        try:
            with open('/proc/self/status') as f:
                for line in f:
                    if line.startswith(key):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float('nan')

    def peak_mb(self) -> float:
        import torch
        if self.cuda:
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() / 2**20
        return self._status('VmHWM:')

    def delta_mb(self) -> float:
        return self.peak_mb() - self.start


class TeacherTimer:
    """Within the ``with`` body, the wall time a Distiller spends on its
    teachers per step: in ``_record_teachers`` (``record_s``) and in calls
    of teacher modules outside it (``calls_s``: the head distillers'
    teacher computations, e.g. the RoI head on the student's RoIs, or
    CrossKD's cross-head forward through ``bbox_head.cls_convs.1``),
    summed over the outermost teacher-module calls (hooks on every teacher
    module: a head distiller may call a layer nested at any depth).
    ``take()`` returns both and starts afresh."""

    def __init__(self, model, sync=lambda: None, clock=None):
        self.model = model
        self.sync = sync
        self.clock = clock or time.perf_counter
        self.record_s = self.calls_s = 0.
        self._depth, self._start, self._in_record = 0, 0., False
        self._handles = []

    def __enter__(self):
        inner = self.model._record_teachers

        def record_teachers(*args, **kwargs):
            self.sync()
            start = self.clock()
            self._in_record = True
            try:
                return inner(*args, **kwargs)
            finally:
                self.sync()
                self._in_record = False
                self.record_s += self.clock() - start

        self.model._record_teachers = record_teachers
        for teacher in self.model.teacher_models.values():
            for module in teacher.modules():
                self._handles.append(
                    module.register_forward_pre_hook(self._enter))
                self._handles.append(
                    module.register_forward_hook(self._leave))
        return self

    def _enter(self, module, args):
        if self._in_record:
            return
        if self._depth == 0:
            self.sync()
            self._start = self.clock()
        self._depth += 1

    def _leave(self, module, args, out):
        if self._in_record:
            return
        self._depth -= 1
        if self._depth == 0:
            self.sync()
            self.calls_s += self.clock() - self._start

    def take(self):
        out = (self.record_s, self.calls_s)
        self.record_s = self.calls_s = 0.
        return out

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles = []
        del self.model._record_teachers


def plain_teachers(model_cfg, device):
    """Each teacher as its own config builds it: its checkpoint loaded
    strictly, frozen, nothing else (no recorders, in-place activations and
    layout as configured)."""
    from kdtools.models.distillers.teacher import (build_model, freeze,
                                                   load_strict,
                                                   model_cfg_from)
    teachers = model_cfg.get('teachers') or dict(
        teacher=model_cfg.get('teacher'))
    out = {}
    for name, t in teachers.items():
        owner = f'plain teachers.{name}'
        m = build_model(model_cfg_from(t['config'], owner), owner)
        load_strict(m, t.get('checkpoint'), owner,
                    trusted=t.get('trust_checkpoint') or None)
        out[name] = freeze(m).to(device)
    return out


def plain_student(model_cfg, top_preprocessor, device):
    """The student as its own config builds it (the Runner gives a
    config's top-level data_preprocessor to a model without one)."""
    from kdtools.models.distillers.teacher import (build_model,
                                                   student_cfg_from)
    m = build_model(student_cfg_from(model_cfg['student'], top_preprocessor),
                    'plain student').to(device)
    m.init_weights()
    return m.train()


def main(argv=None):
    args = parse_args(argv)
    import torch
    from mmengine.optim import OptimWrapper
    from mmengine.registry import MODELS
    from mmengine.runner import Runner

    from kdtools.models.distillers.partial_forward import forward_to
    from kdtools.models.distillers.teacher_preprocessing import fit_to, \
        pad_value
    from kdtools.utils import load_config, register_all_modules
    register_all_modules()
    cfg = load_config(args.config, args.cfg_options)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    model_cfg = cfg.model
    if args.random_teacher:
        model_cfg = _random_teacher_cfg(model_cfg)
    model = MODELS.build(model_cfg).to(device)
    model.init_weights()
    model.train()
    top_pp = cfg.get('data_preprocessor')
    student = plain_student(model_cfg, top_pp.to_dict() if hasattr(
        top_pp, 'to_dict') else top_pp, device)
    teachers = plain_teachers(model_cfg, device)

    loader_cfg = dict(cfg.train_dataloader)
    loader_cfg['num_workers'] = 0
    loader_cfg['persistent_workers'] = False
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    batches = []
    for data in loader:
        batches.append(data)
        if len(batches) == args.batches:
            break

    opt_s = OptimWrapper(torch.optim.SGD(student.parameters(), lr=1e-4))
    opt_d = distill_optim_wrapper(model)
    sync = torch.cuda.synchronize if device.startswith('cuda') else (
        lambda: None)

    # the student's preprocessing of each batch, made once outside the
    # teacher phases (the student phase and the distill step run it)
    prepared = {}

    def prepare(data):
        key = id(data)
        if key not in prepared:
            prepared[key] = student.data_preprocessor(data, True)
        return prepared[key]

    for data in batches:
        prepare(data)
    differing = getattr(model.data_preprocessor, 'differing', {})
    sources = {n: model.teacher_recorders[n].sources for n in teachers}

    def student_step(data):
        student.train_step(data, opt_s)

    def teacher_forward(data):
        pre = prepare(data)
        with torch.no_grad():
            for name, teacher in teachers.items():
                inputs = pre['inputs']
                if name in differing:  # its own preprocessing, counted here
                    own = teacher.data_preprocessor(dict(data), True)
                    inputs = fit_to(own['inputs'], inputs.shape[-2:],
                                    pad_value(teacher.data_preprocessor))
                forward_to(teacher, inputs, pre['data_samples'],
                           sources[name])

    timer = TeacherTimer(model, sync)

    def distiller_teachers(data):
        """A distillation step; returns the time spent on teachers."""
        with timer:
            model.train_step(data, opt_d)
        return timer.take()

    def distiller_teachers_only(data):  # for its peak memory
        pre = model.data_preprocessor(data, True)
        model._record_teachers(pre['inputs'], pre['data_samples'],
                               pre.get('teacher_inputs'))

    def distill_step(data):
        model.train_step(data, opt_d)

    phases = [('a_student_step', student_step),
              ('b_plain_teacher_forward', teacher_forward),
              ('b_distiller_teachers', distiller_teachers),
              ('c_distill_step', distill_step)]
    if args.peer:
        peer_cfg = load_config(args.peer, args.cfg_options).model
        if args.random_teacher and 'teacher_ckpt' in peer_cfg:
            peer_cfg.teacher_ckpt = None
        peer = MODELS.build(peer_cfg).to(device)
        peer.init_weights()
        peer.train()
        opt_p = OptimWrapper(torch.optim.SGD(peer.parameters(), lr=1e-4))

        def peer_step(data):
            peer.train_step(data, opt_p)

        phases.append(('d_peer_step', peer_step))
    mem = PeakMemory(device)
    times = {name: [] for name, _ in phases}
    parts = {'b_distiller_record_teachers': [],
             'b_head_distiller_teacher_calls': []}
    peaks, deltas = {}, {}
    # warm-up, then interleave the phases so drift hits all alike
    for name, fn in phases:
        for i in range(args.warmup):
            fn(batches[i % len(batches)])
    for name, fn in phases:
        if name == 'b_distiller_teachers':
            fn = distiller_teachers_only
        mem.reset()
        fn(batches[0])
        sync()
        peaks[name], deltas[name] = mem.peak_mb(), mem.delta_mb()
    for i in range(args.iters):
        data = batches[i % len(batches)]
        for name, fn in phases:
            sync()
            start = time.perf_counter()
            out = fn(data)
            sync()
            if name == 'b_distiller_teachers':
                parts['b_distiller_record_teachers'].append(out[0])
                parts['b_head_distiller_teacher_calls'].append(out[1])
                times[name].append(out[0] + out[1])
            else:
                times[name].append(time.perf_counter() - start)
    # the plain teachers' share of the method's teacher work: their
    # forward plus the teacher calls the head distillers make (which need
    # the distillation step's student outputs)
    times['b_teacher_forward'] = [
        p + c for p, c in zip(times['b_plain_teacher_forward'],
                              parts['b_head_distiller_teacher_calls'])]
    peaks['b_teacher_forward'] = peaks['b_plain_teacher_forward']
    deltas['b_teacher_forward'] = deltas['b_plain_teacher_forward']
    med = {k: statistics.median(v) for k, v in times.items()}
    med_parts = {k: statistics.median(v) for k, v in parts.items()}
    ratio = med['c_distill_step'] / (med['a_student_step'] +
                                     med['b_teacher_forward'])
    main_keys = ('a_student_step', 'b_teacher_forward', 'c_distill_step')
    result = dict(
        config=args.config, device=device, iters=args.iters,
        batch_size=loader_cfg.get('batch_size'),
        torch_threads=torch.get_num_threads(),
        median_s={k: med[k] for k in main_keys},
        parts_median_s=dict(
            {k: med[k] for k in med if k not in main_keys}, **med_parts),
        peak_memory_mb={k: peaks[k] for k in main_keys},
        peak_memory_delta_mb=deltas,
        parts_peak_memory_mb={k: peaks[k] for k in peaks
                              if k not in main_keys},
        inference_setting=getattr(model, 'inference_setting', None),
        overhead_ratio=ratio,
        distiller_teachers_vs_plain=med['b_distiller_teachers'] /
        med['b_teacher_forward'])
    if args.peer:
        result['peer'] = args.peer
        result['speed_ratio_vs_peer'] = med['c_distill_step'] / \
            med['d_peer_step']
    order = ['a_student_step', 'b_plain_teacher_forward',
             'b_head_distiller_teacher_calls', 'b_teacher_forward',
             'b_distiller_record_teachers', 'b_distiller_teachers',
             'c_distill_step'] + (['d_peer_step'] if args.peer else [])
    every = dict(med, **med_parts)
    for name in order:
        mem_text = f'   peak memory {peaks[name]:8.1f} MB ' \
            f'(+{deltas[name]:.1f})' if name in peaks else ''
        print(f'{name:31s} median {every[name] * 1000:8.1f} ms{mem_text}')
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2, default=str)
    print(f'distiller teachers / plain teachers: '
          f'{result["distiller_teachers_vs_plain"]:.3f}')
    print(f'overhead ratio c / (a + b): {ratio:.3f}')
    if args.peer:
        print(f'speed ratio c / d (kdtools / peer): '
              f'{result["speed_ratio_vs_peer"]:.3f}')
    return result


def distill_optim_wrapper(model, lr=1e-4):
    """SGD over the distiller's trainable parameters; for adversarial
    distillation an ``OptimWrapperDict`` with the critic's own, so that
    the step includes the critic's update(s)."""
    import torch
    from mmengine.optim import OptimWrapper, OptimWrapperDict
    if getattr(model, 'discriminator', None) is None:
        return OptimWrapper(torch.optim.SGD(model.parameters(), lr=lr))
    critic = set(map(id, model.discriminator.parameters()))
    return OptimWrapperDict(
        student=OptimWrapper(torch.optim.SGD(
            [p for p in model.parameters() if id(p) not in critic], lr=lr)),
        discriminator=OptimWrapper(torch.optim.SGD(
            model.discriminator.parameters(), lr=lr)))


def _random_teacher_cfg(model_cfg):
    """The distiller config with each teacher checkpoint replaced by a
    freshly initialised one (timing does not depend on the weights)."""
    import tempfile

    import torch
    from mmengine.registry import MODELS

    from kdtools.models.distillers.teacher import model_cfg_from
    cfg = model_cfg.copy()
    teachers = cfg.pop('teachers', None) or dict(teacher=cfg.pop('teacher'))
    out = {}
    for name, t in teachers.items():
        t = dict(t)
        m = MODELS.build(model_cfg_from(t['config'], name))
        path = osp.join(tempfile.mkdtemp(), f'{name}.pth')
        torch.save(dict(state_dict=m.state_dict()), path)
        t['checkpoint'] = path
        out[name] = t
    cfg['teachers'] = out
    return cfg


if __name__ == '__main__':
    main()
