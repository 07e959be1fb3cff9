"""The teachers at the best inference setting the device allows, chosen once
at build time and reported in the log (one INFO line per teacher, one for
the student):

- **In-place activations** stay on except where a recorder needs the tensor
  intact. An in-place module overwrites its *input*, so only those whose
  input shares storage with a recorded tensor (a recorded module's output,
  or a recorded input) are switched off, plus any in-place module that is
  itself recorded. They are found during the build-time dummy forward
  (:func:`~.adapter_builder.dummy_forward`, run inside an
  :class:`InplaceProbe`): a forward-pre-hook on every in-place module
  compares its inputs' storages with those of everything recorded so far.
  In-place modules that did not run in that forward (e.g. a head past the
  recorded neck) are switched off too (nothing is known about them), and
  a model with feature recorders but no dummy forward keeps the former rule
  (all off). The same rule applies to the student's recorded features.
  In-place *functional* ops inside a module's own ``forward`` (mmdet's
  ``out += identity``) cannot be switched off: record a module whose output
  nothing modifies afterwards.
- **Batch norms folded** into the convolutions that feed them
  (``teacher_fuse_conv_bn``, on by default; :mod:`.teacher_fusion`), except
  where a recorder reads the convolution or the BN, and not while the
  teacher's weights are saved in the checkpoints
  (``teacher_in_checkpoint=True``: its keys stay the checkpoint's). Done
  before the channels_last choice, which then times the folded teacher.
- **channels_last** for a teacher with convolutions where it is faster on
  the training device (``'auto'``, the default: a few interleaved timed
  forwards of each layout on a dummy batch of 4 of ``input_shape``, kept
  only when >= 5% faster, rank 0's choice on every rank; under
  ``randomness=dict(deterministic=True)``, which switches on torch's
  deterministic algorithms, the rule "on for convolutional teachers"
  instead, so that two runs choose alike; issue 22 measured channels_last
  24% faster for the MobileNetV2 GFL teacher on CPU, and with its BNs
  folded 30% faster than the plain teacher), or as set
  (``teacher_channels_last=True/False`` on the Distiller, or a teacher's own
  ``channels_last`` key). The recorded features are made contiguous as they
  are recorded, so losses see the layout they always saw (values equal to
  about 1e-6 relative: convolution kernels sum in another order).
- **Half precision**: under ``--amp`` (``AmpOptimWrapper``) mmengine runs the
  whole training forward, the teachers' included, under ``autocast``; the
  teachers' recorded outputs are cast back to the student's parameter dtype
  as they are recorded, so the losses compute in the student's precision.
"""
import time
from typing import Dict, Optional, Union

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from ..recorders import RecorderManager
from .adapter_builder import reset_recorders
from .nested import map_tensors, tensors_in
from .partial_forward import forward_to, random_batch
from .teacher_fusion import fold_conv_bn

INPLACE_TYPES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.Hardswish,
                 nn.Hardsigmoid, nn.SiLU, nn.Dropout, nn.Dropout2d,
                 nn.Hardtanh, nn.Threshold, nn.CELU, nn.SELU, nn.Mish)
#: channels_last is kept under 'auto' when at least this much faster
CL_GAIN = 0.95
#: the dummy batch 'auto' times the two layouts on: at batch 1 or 2 the
#: MobileNetV2 GFL teacher is 4-14% faster in channels_last on this
#: project's CPU (near CL_GAIN, so the choice flipped between runs), at
#: batch 4 and 8 17-28% (what training batches see)
CL_BATCH = 4


def inplace_modules(model: nn.Module) -> Dict[str, nn.Module]:
    """Name -> module, for the activations (and dropouts) set in-place."""
    return {n: m for n, m in model.named_modules()
            if isinstance(m, INPLACE_TYPES) and getattr(m, 'inplace', False)
            is True}


def _storage(t: Tensor) -> int:
    try:
        return t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):  # e.g. sparse, meta
        return 0


class InplaceProbe:
    """During the ``with`` body (one recorded forward of each side), finds
    the in-place modules whose inputs share storage with a tensor a
    recorder of that side holds.

    Args:
        sides (dict): side name (``'student'``, ``'teachers.<name>'``) ->
            ``(model, its RecorderManager)``.
    """

    def __init__(self, sides: Dict[str, tuple]) -> None:
        self.sides = sides
        self.ran: Dict[str, set] = {s: set() for s in sides}
        self.conflicts: Dict[str, set] = {s: set() for s in sides}
        self.forwarded: set = set()
        self._handles = []

    @classmethod
    def of(cls, distiller) -> 'InplaceProbe':
        """The probe of a Distiller's student and teachers."""
        sides = dict(student=(distiller.student,
                              distiller.student_recorders))
        for n, m in distiller.teacher_models.items():
            sides[f'teachers.{n}'] = (m, distiller.teacher_recorders[n])
        return cls(sides)

    def __enter__(self) -> 'InplaceProbe':
        for side, (model, manager) in self.sides.items():
            for name, module in inplace_modules(model).items():
                self._handles.append(module.register_forward_pre_hook(
                    self._pre_hook(side, name, manager)))
        return self

    def _pre_hook(self, side: str, name: str, manager: RecorderManager):
        def hook(module, args):
            self.ran[side].add(name)
            recorded = {_storage(t) for r in manager.recorders.values()
                        for t in tensors_in(r.data)}
            recorded.discard(0)
            if any(_storage(t) in recorded for t in tensors_in(args)):
                self.conflicts[side].add(name)
        return hook

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        for side, (_, manager) in self.sides.items():
            if self.ran[side] or any(r.data for r in
                                     manager.recorders.values()):
                self.forwarded.add(side)


def _recorded_sources(manager: RecorderManager) -> set:
    return {r.source for r in manager.recorders.values()}


def _has_feature_recorders(manager: RecorderManager) -> bool:
    """Recorders besides the head distillers' (``'<hd>/<key>'``: head
    outputs and targets, which nothing modifies)."""
    return any('/' not in n for n in manager.recorders)


def select_inplace(side: str, model: nn.Module, manager: RecorderManager,
                   probe: Optional[InplaceProbe]) -> dict:
    """Switch off in-place on the modules of ``model`` that could overwrite
    what ``manager`` records (see the module docstring); returns the counts
    ``dict(kept=, off=, conflicts=, not_run=, rule=)``."""
    modules = inplace_modules(model)
    if probe is not None and side in probe.forwarded:
        recorded = _recorded_sources(manager)
        conflicts = probe.conflicts[side] | (recorded & set(modules))
        not_run = set(modules) - probe.ran[side] if manager.recorders \
            else set()
        off = conflicts | not_run
        rule = 'measured'
    else:
        conflicts, not_run = set(), set()
        off = set(modules) if _has_feature_recorders(manager) else set()
        rule = 'all off (no build-time forward)' if off else 'none recorded'
    for name in off:
        modules[name].inplace = False
    return dict(kept=len(modules) - len(off), off=len(off),
                conflicts=sorted(conflicts), not_run=len(not_run - conflicts),
                rule=rule)


def has_convs(model: nn.Module) -> bool:
    return any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
               for m in model.modules())


#: (architecture, sources, input shape, device) -> the timing measured for
#: it in this process: a teacher built again (a test suite, a benchmark)
#: gets the same choice without timing again
_MEASURED: Dict[tuple, Optional[tuple]] = {}


def measure_channels_last(model: nn.Module, manager: RecorderManager,
                          input_shape, device: str, rounds: int = 3
                          ) -> Optional[tuple]:
    """``(contiguous s, channels_last s)``: the fastest of ``rounds``
    interleaved forwards of each layout (as far as the recorders need) on
    a random dummy batch of ``CL_BATCH`` on ``device``; None where the
    forward fails.
    Measured once per architecture, recorded modules, shape and device in
    a process."""
    sources = tuple(sorted(manager.sources or ['neck']))
    key = (str(model), sources, tuple(input_shape), device)
    if key not in _MEASURED:
        _MEASURED[key] = _time_layouts(model, list(sources), input_shape,
                                       device, rounds)
    return _MEASURED[key]


def _time_layouts(model, sources, input_shape, device, rounds):
    was_device = next(iter(model.parameters()), torch.empty(0)).device
    x = random_batch(CL_BATCH, input_shape, device)
    model.to(device)
    sync = torch.cuda.synchronize if device.startswith('cuda') else (
        lambda: None)
    best = {False: float('inf'), True: float('inf')}
    try:
        with torch.no_grad():
            for i in range(rounds + 1):
                for cl in (False, True):
                    model.to(memory_format=torch.channels_last if cl
                             else torch.contiguous_format)
                    sync()
                    start = time.perf_counter()
                    forward_to(model, x, None, sources)
                    sync()
                    if i:  # the first round warms up
                        best[cl] = min(best[cl], time.perf_counter() - start)
    except Exception:  # noqa: BLE001 -- e.g. a forward needing samples
        return None
    finally:
        model.to(memory_format=torch.contiguous_format)
        model.to(was_device)
    return best[False], best[True]


def same_on_every_rank(choice: bool) -> bool:
    """Rank 0's timed choice on every rank of a distributed run (each
    rank times its own forwards; the teachers must run alike)."""
    from mmengine.dist import broadcast_object_list, is_distributed
    if not is_distributed():
        return choice
    obj = [choice]
    broadcast_object_list(obj, src=0)
    return bool(obj[0])


def recorded_as(dtype: torch.dtype, contiguous: bool):
    """What the teacher recorders apply to each record: floating tensors
    cast to ``dtype`` (the student's), and made contiguous."""
    def fn(t: Tensor) -> Tensor:
        if t.is_floating_point() and t.dtype != dtype:
            t = t.to(dtype)
        if contiguous and t.dim() == 4:
            t = t.contiguous()
        return t

    def transform(out):
        return map_tensors(out, fn)
    return transform


def choose_channels_last(name: str, model: nn.Module,
                         manager: RecorderManager,
                         setting: Union[str, bool], input_shape
                         ) -> tuple:
    """``(use it, why)`` for teacher ``name`` under ``setting``."""
    if setting is False or setting is None:
        return False, 'off (as configured)'
    if not has_convs(model):
        return False, 'off (no convolutions)'
    if setting is True:
        return True, 'on (as configured)'
    if setting != 'auto':
        from kdtools.utils.errors import ConfigError
        raise ConfigError(f'{name}: channels_last={setting!r}; expected '
                          "'auto', True or False")
    if torch.are_deterministic_algorithms_enabled():
        # a timing could choose differently from run to run (convolutions
        # differ by ~1e-6 between layouts): the documented rule instead
        return True, ('on (auto under deterministic algorithms: the rule '
                      '"convolutional teachers in channels_last", not a '
                      'timing)')
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    times = measure_channels_last(model, manager, input_shape, device)
    if times is None:
        return False, 'off (auto: the dummy forward could not be timed)'
    cf, cl = times
    mine = cl < CL_GAIN * cf
    use = same_on_every_rank(mine)
    shape = 'x'.join(map(str, (CL_BATCH, ) + tuple(input_shape)))
    return use, (f'{"on" if use else "off"} (auto: {cl * 1e3:.1f} vs '
                 f'{cf * 1e3:.1f} ms contiguous per {shape} forward on '
                 f'{device}{"; rank 0 timed otherwise" if use != mine else ""}'
                 ')')


def configure_inference(distiller, probe: Optional[InplaceProbe],
                        channels_last: Union[str, bool],
                        teacher_cfgs: Dict[str, dict], input_shape,
                        fuse_conv_bn: bool = True) -> dict:
    """Apply the inference setting to every teacher and the in-place rule
    to the student; log one line each. Returns side -> what was chosen."""
    student = distiller.student
    dtype = next((p.dtype for p in student.parameters()
                  if p.is_floating_point()), torch.float32)
    chosen = {}
    inp = select_inplace('student', student, distiller.student_recorders,
                         probe)
    chosen['student'] = dict(inplace=inp)
    if inplace_modules(student) or inp['off']:
        print_log(f'student: in-place activations {_describe(inp)}',
                  logger='current')
    for name, model in distiller.teacher_models.items():
        side = f'teachers.{name}'
        manager = distiller.teacher_recorders[name]
        inp = select_inplace(side, model, manager, probe)
        own = dict(teacher_cfgs.get(name) or {})
        fused = fuse_teacher(side, model, manager,
                             own.get('fuse_conv_bn', fuse_conv_bn),
                             distiller.teacher_in_checkpoint, input_shape)
        setting = own.get('channels_last', channels_last)
        use_cl, why = choose_channels_last(side, model, manager, setting,
                                           input_shape)
        if use_cl:
            model.to(memory_format=torch.channels_last)
        transform = recorded_as(dtype, use_cl)
        for r in manager.recorders.values():
            r.transform = transform
        chosen[side] = dict(inplace=inp, channels_last=use_cl,
                            fuse_conv_bn=fused)
        print_log(
            f'{side}: inference setting: in-place activations '
            f'{_describe(inp)}; batch norms {_describe_fused(fused)}; '
            f'channels_last {why}; half precision under '
            f'--amp (the AmpOptimWrapper autocast; recorded outputs cast '
            f'back to {str(dtype).replace("torch.", "")})', logger='current')
    return chosen


def fuse_teacher(name: str, model: nn.Module, manager: RecorderManager,
                 setting, in_checkpoint: bool, input_shape) -> dict:
    """Fold teacher ``name``'s BNs into its convolutions where ``setting``
    (``fuse_conv_bn``) asks and its weights are not checkpointed; returns
    :func:`~.teacher_fusion.fold_conv_bn`'s counts (``why`` says why none
    were folded)."""
    if setting not in (True, False):
        from kdtools.utils.errors import ConfigError
        raise ConfigError(f'{name}: fuse_conv_bn={setting!r}; expected True '
                          'or False')
    if not setting:
        return dict(folded=0, of=None, error=None, why='as configured')
    if in_checkpoint:
        return dict(folded=0, of=None, error=None,
                    why='teacher_in_checkpoint=True: the checkpoints keep '
                    "the teacher's own weights")
    done = fold_conv_bn(model, manager, input_shape)
    reset_recorders([manager])  # what the check forwards recorded
    return done


def _describe_fused(fused: dict) -> str:
    if fused['folded']:
        return (f'folded into their convolutions: {fused["folded"]} of '
                f'{fused["of"]} (outputs equal to {fused["error"]:.0e} '
                'relative)')
    return f'not folded ({fused["why"]})'


def _describe(inp: dict) -> str:
    text = f'kept on {inp["kept"]} of {inp["kept"] + inp["off"]}'
    if inp['off']:
        parts = []
        if inp['conflicts']:
            shown = ', '.join(inp['conflicts'][:3])
            more = len(inp['conflicts']) - 3
            parts.append(f'{len(inp["conflicts"])} read recorded tensors: '
                         f'{shown}{f" (+{more})" if more > 0 else ""}')
        if inp['not_run']:
            parts.append(f'{inp["not_run"]} did not run in the build-time '
                         'forward')
        if inp['rule'] != 'measured':
            parts.append(inp['rule'])
        text += f' (off: {"; ".join(parts)})'
    return text
