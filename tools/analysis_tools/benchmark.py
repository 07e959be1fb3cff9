#!/usr/bin/env python
"""Time a distillation config against its parts, in one process, on the
same batches: (a) a student-only training step, (b) the teacher forward(s)
as the distiller runs them, (c) the full distillation step; with the peak
memory of each (CUDA: max allocated; CPU: the process's peak RSS, reset
before each phase). The last line is the overhead ratio c / (a + b): what
the recorders, adapters and distillation losses cost beyond running the two
models.

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
    (Linux: VmHWM, reset through /proc/self/clear_refs)."""

    def __init__(self, device):
        self.cuda = device.startswith('cuda')

    def reset(self):
        import torch
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            try:
                with open('/proc/self/clear_refs', 'w') as f:
                    f.write('5')
            except OSError:
                pass

    def peak_mb(self) -> float:
        import torch
        if self.cuda:
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() / 2**20
        try:
            with open('/proc/self/status') as f:
                for line in f:
                    if line.startswith('VmHWM:'):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float('nan')


def main(argv=None):
    args = parse_args(argv)
    import torch
    from mmengine.optim import OptimWrapper
    from mmengine.registry import MODELS
    from mmengine.runner import Runner

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
    student = model.student

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
    if getattr(model, 'discriminator', None) is not None:
        # adversarial distillation: the step includes the critic's update(s)
        from mmengine.optim import OptimWrapperDict
        critic = set(map(id, model.discriminator.parameters()))
        opt_d = OptimWrapperDict(
            student=OptimWrapper(torch.optim.SGD(
                [p for p in model.parameters() if id(p) not in critic],
                lr=1e-4)),
            discriminator=OptimWrapper(torch.optim.SGD(
                model.discriminator.parameters(), lr=1e-4)))
    else:
        opt_d = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-4))

    def student_step(data):
        data = model.data_preprocessor(data, True)
        losses = student.loss(data['inputs'], data['data_samples'])
        loss, _ = student.parse_losses(losses)
        opt_s.update_params(loss)

    def teacher_forward(data):
        data = model.data_preprocessor(data, True)
        with torch.no_grad():
            for name, teacher in model.teacher_models.items():
                manager = model.teacher_recorders[name]
                with manager.record():
                    model._forward_to(teacher, data['inputs'],
                                      data['data_samples'], manager.sources)

    def distill_step(data):
        model.train_step(data, opt_d)

    phases = [('a_student_step', student_step),
              ('b_teacher_forward', teacher_forward),
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
    peaks = {}
    sync = torch.cuda.synchronize if device.startswith('cuda') else (
        lambda: None)
    # warm-up, then interleave the phases so drift hits all three alike
    for name, fn in phases:
        for i in range(args.warmup):
            fn(batches[i % len(batches)])
    for name, fn in phases:
        mem.reset()
        fn(batches[0])
        sync()
        peaks[name] = mem.peak_mb()
    for i in range(args.iters):
        data = batches[i % len(batches)]
        for name, fn in phases:
            sync()
            start = time.perf_counter()
            fn(data)
            sync()
            times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med['c_distill_step'] / (med['a_student_step'] +
                                     med['b_teacher_forward'])
    result = dict(
        config=args.config, device=device, iters=args.iters,
        batch_size=loader_cfg.get('batch_size'),
        torch_threads=torch.get_num_threads(),
        median_s=med, peak_memory_mb=peaks,
        overhead_ratio=ratio)
    if args.peer:
        result['peer'] = args.peer
        result['speed_ratio_vs_peer'] = med['c_distill_step'] / \
            med['d_peer_step']
    for name in med:
        print(f'{name:18s} median {med[name] * 1000:8.1f} ms   '
              f'peak memory {peaks[name]:8.1f} MB')
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
    print(f'overhead ratio c / (a + b): {ratio:.3f}')
    if args.peer:
        print(f'speed ratio c / d (kdtools / peer): '
              f'{result["speed_ratio_vs_peer"]:.3f}')
    return result


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
