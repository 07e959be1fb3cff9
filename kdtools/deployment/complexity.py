"""FLOPs, activations and parameters of the deployable graph
(:class:`~kdtools.deployment.model.DeployModel`) with mmengine's own
counter (``mmengine.analysis.FlopAnalyzer`` / ``ActivationAnalyzer``, the
fvcore counter that mmdet's, mmseg's and mmpretrain's ``get_flops.py``
use): one fused multiply-add counts as one FLOP, as there.

mmengine 0.10.7 has no handle for ``aten::scaled_dot_product_attention``
(mmpretrain's attention on torch >= 2.0), so the counter would skip the
attention's two matrix products; :func:`sdpa_flop_jit` counts them
(``Q K^T`` and ``A V``: ``N * heads * L * S * (E + Ev)``) and is set on both
analyzers.
"""
from typing import Optional

import torch
from torch import nn


def _shape(value):
    return value.type().sizes()


def sdpa_flop_jit(inputs, outputs):
    """FLOPs (multiply-adds) of ``scaled_dot_product_attention(q, k, v)``."""
    q, k, v = (_shape(x) for x in inputs[:3])
    batch = 1
    for d in q[:-2]:
        batch *= d
    length, e = q[-2], q[-1]
    source, ev = k[-2], v[-1]
    return batch * length * source * (e + ev)


def sdpa_activation_jit(inputs, outputs):
    """Activations of ``scaled_dot_product_attention``: the attention map
    and the output, as the two matrix products it replaces count them."""
    q, k = _shape(inputs[0]), _shape(inputs[1])
    batch = 1
    for d in q[:-2]:
        batch *= d
    out = 1
    for d in _shape(outputs[0]):
        out *= d
    return batch * q[-2] * k[-2] + out


SDPA = 'aten::scaled_dot_product_attention'


def complexity(wrapper: nn.Module, inputs: torch.Tensor) -> dict:
    """``flops``, ``activations`` and ``params`` of ``wrapper`` on
    ``inputs``, with the operators the counter skipped
    (``unsupported_ops``: name -> count; element-wise ones cost little)."""
    from mmengine.analysis import (ActivationAnalyzer, FlopAnalyzer,
                                   parameter_count)
    wrapper.eval()
    flops = FlopAnalyzer(wrapper, (inputs, ))
    flops.set_op_handle(SDPA, sdpa_flop_jit)
    acts = ActivationAnalyzer(wrapper, (inputs, ))
    acts.set_op_handle(SDPA, sdpa_activation_jit)
    for a in (flops, acts):
        a.unsupported_ops_warnings(False)
        a.uncalled_modules_warnings(False)
        a.tracer_warnings('none')
    with torch.no_grad():
        total = flops.total()
        activations = acts.total()
    return dict(flops=int(total), activations=int(activations),
                params=int(parameter_count(wrapper)['']),
                input_shape=list(inputs.shape),
                unsupported_ops=dict(flops.unsupported_ops()))


def fmt(n: Optional[float], unit: str = '') -> str:
    """1.23G / 4.56M / 7.89K."""
    if n is None:
        return ''
    for div, suffix in ((1e9, 'G'), (1e6, 'M'), (1e3, 'K')):
        if abs(n) >= div:
            return f'{n / div:.2f}{suffix}{unit}'
    return f'{n:.0f}{unit}'
