"""Folding a frozen teacher's eval-mode batch norms into the convolutions
that feed them (``teacher_fuse_conv_bn``, issue 22): what mmdet's
``tools/test.py --fuse-conv-bn`` does (``mmcv.cnn.fuse_conv_bn``), made
safe for any teacher a distiller wraps.

mmcv pairs a BN with the convolution registered just before it, which is
wrong where the module order differs from the forward order (a
pre-activation ``ConvModule`` with ``order=('norm', 'conv', 'act')``
registers ``conv`` first). Here the pairs come from one traced forward on
the build-time dummy input instead: a BN is folded into a ``Conv2d`` only
when, in every call, the BN's input is that convolution's output and no
other module received that output (checked by tensor identity with
forward hooks). Pairs whose convolution or BN is recorded, or whose
convolution's output is recorded as an input, are left alone (folding
would change what is recorded). After folding, the same forward is run
again and compared with the unfolded one: beyond ``RTOL`` of the largest
output magnitude (a functional op between the two, e.g. ``F.relu_``, that
hooks cannot see) every fold is undone.

For a convolution ``y = W * x + b`` followed by
``BN(y) = gamma (y - mu) / sqrt(var + eps) + beta``, with
``s = gamma / sqrt(var + eps)`` per output channel:
``W' = s W``, ``b' = s (b - mu) + beta``; the BN becomes ``nn.Identity``.
The folded teacher's outputs equal the plain one's to float rounding
(~1e-6 relative); fewer passes over each feature map make it faster
(measured for the MobileNetV2 GFL teacher on CPU in
``docs/en/benchmarks.md#speed``).
"""
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..recorders import RecorderManager
from .nested import tensors_in
from .partial_forward import forward_to, random_batch

#: the folded forward must equal the plain one to this fraction of the
#: largest output magnitude
RTOL = 1e-4


def _leaves(model: nn.Module) -> Dict[str, nn.Module]:
    return {n: m for n, m in model.named_modules()
            if n and not any(True for _ in m.children())}


def trace_pairs(model: nn.Module, run) -> List[Tuple[str, str]]:
    """``(conv name, bn name)`` pairs where, over one call of ``run()``,
    every output of the convolution went to that BN and nothing else, and
    every input of the BN came from that convolution."""
    leaves = _leaves(model)
    made_by: Dict[int, str] = {}        # id(conv output) -> conv name
    keep_alive: List[Tensor] = []       # so that ids are not reused
    consumers: Dict[str, set] = {}      # conv -> modules that read its output
    bn_sources: Dict[str, set] = {}     # bn -> convs (or None) it read from
    handles = []

    def pre_hook(name):
        def hook(mod, args):
            ids = [id(t) for t in tensors_in(args)]
            for i in ids:
                if i in made_by:
                    consumers.setdefault(made_by[i], set()).add(name)
            if isinstance(mod, _BatchNorm):
                src = made_by.get(ids[0]) if ids else None
                bn_sources.setdefault(name, set()).add(src)
        return hook

    def conv_hook(name):
        def hook(mod, args, out):
            if isinstance(out, Tensor):
                made_by[id(out)] = name
                keep_alive.append(out)
        return hook

    for name, m in leaves.items():
        handles.append(m.register_forward_pre_hook(pre_hook(name)))
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook(name)))
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    pairs = []
    for bn, srcs in bn_sources.items():
        if len(srcs) != 1 or None in srcs:
            continue
        conv = next(iter(srcs))
        if consumers.get(conv) == {bn}:
            pairs.append((conv, bn))
    return pairs


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (isinstance(conv, nn.Conv2d) and isinstance(bn, _BatchNorm)
            and not bn.training and bn.track_running_stats
            and bn.running_mean is not None
            and bn.num_features == conv.out_channels
            and conv.padding_mode == 'zeros')


def _fold(conv: nn.Conv2d, bn: _BatchNorm) -> None:
    with torch.no_grad():
        scale = (bn.running_var + bn.eps).rsqrt()
        if bn.affine:
            scale = scale * bn.weight
        bias = conv.bias if conv.bias is not None else torch.zeros_like(
            bn.running_mean)
        shift = (bias - bn.running_mean) * scale
        if bn.affine:
            shift = shift + bn.bias
        conv.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        if conv.bias is None:
            conv.bias = nn.Parameter(shift.to(conv.weight.dtype),
                                     requires_grad=False)
        else:
            conv.bias.copy_(shift)


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition('.')
    owner = model.get_submodule(parent) if parent else model
    owner._modules[child] = module


def _outputs(model: nn.Module, run, trace: bool = False):
    """The float outputs of the model's top-level children (and of the
    model itself) over one ``run()``; with ``trace``, also the
    :func:`trace_pairs` of that same forward."""
    outs: List[Tensor] = []
    handles = [m.register_forward_hook(
        lambda mod, args, out: outs.extend(
            t.detach().clone() for t in tensors_in(out)
            if t.is_floating_point()))
        for m in [model, *model.children()]]
    try:
        if trace:
            return trace_pairs(model, run), outs
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return outs


def _close(ref: List[Tensor], new: List[Tensor]) -> Optional[float]:
    """The largest difference over the largest magnitude, or None where the
    outputs do not even match in number or shape."""
    if len(ref) != len(new) or not ref:
        return None
    worst = 0.0
    for a, b in zip(ref, new):
        if a.shape != b.shape:
            return None
        scale = a.abs().max().item() or 1.0
        worst = max(worst, (a - b).abs().max().item() / scale)
    return worst


def fold_conv_bn(model: nn.Module, manager: RecorderManager, input_shape,
                 device: Optional[str] = None) -> dict:
    """Fold the teacher's eval-mode BNs into their convolutions (see the
    module docstring). Returns ``dict(folded=, of=, error=, why=)``: the
    number of folded pairs, of all BNs, the checked relative difference and
    a reason where nothing was folded."""
    bns = [n for n, m in model.named_modules() if isinstance(m, _BatchNorm)]
    result = dict(folded=0, of=len(bns), error=None, why=None)
    if not bns:
        result['why'] = 'no batch norms'
        return result
    param = next(iter(model.parameters()), None)
    device = device or (param.device if param is not None else 'cpu')
    x = random_batch(1, input_shape, device)
    sources = manager.sources or ['neck']

    def run():
        forward_to(model, x, None, sources)

    try:
        pairs, ref = _outputs(model, run, trace=True)
    except Exception as e:  # noqa: BLE001 -- e.g. a forward needing samples
        result['why'] = f'the dummy forward failed ({type(e).__name__})'
        return result
    recorded = {r.source for r in manager.recorders.values()}
    modules = dict(model.named_modules())
    pairs = [(c, b) for c, b in pairs
             if c not in recorded and b not in recorded
             and _foldable(modules[c], modules[b])]
    if not pairs:
        result['why'] = 'no convolution feeds a batch norm alone'
        return result
    saved = []
    for c, b in pairs:
        conv = modules[c]
        saved.append((c, b, conv.weight.detach().clone(),
                      None if conv.bias is None else conv.bias.detach()
                      .clone()))
        _fold(conv, modules[b])
        _set(model, b, nn.Identity())
    error = _close(ref, _outputs(model, run))
    if error is None or error > RTOL:
        for c, b, w, bias in saved:  # undo every fold
            conv = modules[c]
            with torch.no_grad():
                conv.weight.copy_(w)
            if bias is None:
                conv.bias = None
            else:
                with torch.no_grad():
                    conv.bias.copy_(bias)
            _set(model, b, modules[b])
        result['why'] = ('the folded forward differed from the plain one '
                         f'({"shape" if error is None else f"{error:.1e}"}'
                         ' relative): nothing folded')
        result['error'] = error
        return result
    result.update(folded=len(pairs), error=error)
    return result
