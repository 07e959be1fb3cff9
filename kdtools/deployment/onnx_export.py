"""ONNX export of a :class:`~kdtools.deployment.model.DeployModel` with
torch's TorchScript exporter (``torch.onnx.export(..., dynamo=False)``):
dynamic batch always, dynamic height and width where the exported graph,
run at a second size, still matches PyTorch there; the file written under a
temporary name and renamed (never partial); an operator the opset cannot
export reported in one line naming the module."""
import json
import os
import os.path as osp
import re
import sys
import tempfile
import warnings
from contextlib import contextmanager
from typing import Optional, Sequence

import torch
from torch import nn

from kdtools.utils.errors import ConfigError, KDToolsError

#: the default ONNX opset: ONNX Runtime >= 1.12 runs it, LayerNormalization
#: is a single operator from 17 on, and 14 is the least that exports
#: ``scaled_dot_product_attention`` (mmpretrain's attention)
DEFAULT_OPSET = 17
INPUT_NAME = 'inputs'


class ExportError(KDToolsError, RuntimeError):
    """The model cannot be exported as asked."""


def onnx_paths(out: str, force: bool = False):
    """``(onnx, json)`` for ``out`` (ending in ``.onnx``), refused when
    either exists unless ``force``."""
    out = str(out)
    if not out.endswith('.onnx'):
        raise ConfigError(f'ONNX output {out!r} must end in .onnx (the '
                          'preprocessing settings go beside it as .json)')
    meta = osp.splitext(out)[0] + '.json'
    existing = [p for p in (out, meta) if osp.lexists(p)]
    if existing and not force:
        raise ConfigError(
            f'{" and ".join(repr(p) for p in existing)} already '
            f'exist{"s" if len(existing) == 1 else ""}; refusing to '
            'overwrite: pass --force to replace, or choose another output '
            'path')
    return out, meta


@contextmanager
def _quiet_output(into: dict):
    """Send what C++ code writes to stdout and stderr (the TorchScript
    exporter dumps the whole graph when an operator fails) to
    ``into['text']``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with tempfile.TemporaryFile() as tmp:
        for fd in saved:
            os.dup2(tmp.fileno(), fd)
        try:
            yield into
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, keep in saved.items():
                os.dup2(keep, fd)
                os.close(keep)
            tmp.seek(0)
            into['text'] = tmp.read().decode(errors='replace')


def _scope_of(op: str, text: str):
    """``(dotted name, class name)`` of the module whose traced node runs
    ``op``, from the exporter's graph dump (its ``scope:`` annotation)."""
    for line in text.splitlines():
        if f'= {op}(' not in line or 'scope: ' not in line:
            continue
        scope = line.split('scope: ', 1)[1].split(' ')[0]
        parts = [p.split('::') for p in scope.split('/') if '::' in p]
        names = [n for _, n in parts[1:] if n]
        if names and names[0] == 'model':  # the DeployModel's attribute
            names = names[1:]
        if names:
            return '.'.join(names), parts[-1][0].rsplit('.', 1)[-1]
    return None


def _unsupported(error, opset, log='') -> ExportError:
    """One line for an operator that ``opset`` cannot export (naming the
    module that calls it), or the export's own first line."""
    text = str(error).strip().splitlines()[0] if str(error).strip() \
        else repr(error)
    m = re.search(r"operator '([\w:.]+)'", text)
    if m is None:
        return ExportError(f'ONNX export (opset {opset}) failed: '
                           f'{type(error).__name__}: {text}')
    op = m.group(1)
    where = _scope_of(op, f'{error}\n{log}')
    if where:
        name = where[0].split('.', 1)[1] if where[0].startswith('model.') \
            else where[0]
        place = f"in module '{name}' ({where[1]})"
    else:
        place = 'in the model'
    since = re.search(r'added in (?:opset )?version (\d+)', str(error))
    advice = (f': it exports from opset {since.group(1)} on, pass --opset '
              f'{since.group(1)} or higher') if since else \
        ': no opset of the exporter has it, replace that module for export'
    return ExportError(f'ONNX opset {opset} cannot export the operator '
                       f"'{op}' {place}{advice}")


def _torch_export(wrapper, inputs, path, opset, dynamic_hw):
    """torch.onnx.export with the TorchScript exporter, dynamic batch (and
    height / width)."""
    names = wrapper.output_names()
    axes = {0: 'batch'}
    if dynamic_hw:
        axes.update({2: 'height', 3: 'width'})
    dynamic = {INPUT_NAME: axes}
    for n in names:
        dynamic[n] = {0: 'batch'}
        if dynamic_hw and wrapper.task != 'cls':
            dynamic[n].update({2: f'{n}_height', 3: f'{n}_width'})
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(wrapper, (inputs, ), path, dynamo=False,
                          input_names=[INPUT_NAME], output_names=names,
                          opset_version=opset, dynamic_axes=dynamic,
                          do_constant_folding=True)


def _probe_inputs(inputs: torch.Tensor, divisor: int) -> torch.Tensor:
    """A batch of 2 at a second size (height + d, width + 2d)."""
    d = max(int(divisor or 1), 32)
    n, c, h, w = inputs.shape
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, c, h + d, w + 2 * d, generator=g)


def export_onnx(wrapper: nn.Module, inputs: torch.Tensor, out: str,
                opset: int = DEFAULT_OPSET, meta: Optional[dict] = None,
                force: bool = False, divisor: int = 1,
                rtol: float = 1e-3, atol: float = 1e-4) -> dict:
    """Export ``wrapper`` (a :class:`DeployModel`) traced on ``inputs`` to
    ``out`` (``.onnx``) and write ``meta`` (+ what the export found) beside
    it as ``.json``. Height and width are dynamic when the graph, run with
    ONNX Runtime at batch 2 and another size, gives PyTorch's outputs there
    (within ``rtol``/``atol``); batch is always dynamic (checked alike).
    Returns the JSON's content."""
    from .runtime import close, ort_session, run_session
    out, meta_path = onnx_paths(out, force)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    wrapper.eval()
    with torch.no_grad():
        wrapper(inputs)  # sets the output layout (detection levels)
    tmp = f'{out}.{os.getpid()}.tmp'
    probe = _probe_inputs(inputs, divisor)
    with torch.no_grad():
        expected_probe = [t.numpy() for t in _as_tuple(wrapper(probe))]
        expected_batch = [t.numpy() for t in _as_tuple(wrapper(
            torch.cat([inputs[:1], inputs[:1]])))]
    try:
        why = note = ''
        for attempt in (True, False):
            dynamic_hw = attempt
            log = {}
            try:
                with _quiet_output(log):
                    _torch_export(wrapper, inputs, tmp, opset, dynamic_hw)
            except Exception as e:  # noqa: BLE001 - one line, see below
                raise _unsupported(e, opset, log.get('text', '')) from None
            sess = ort_session(tmp)
            x = probe if dynamic_hw else torch.cat([inputs[:1]] * 2)
            want = expected_probe if dynamic_hw else expected_batch
            try:
                got = run_session(sess, x, quiet=True)
                ok = len(got) == len(want) and all(
                    g.shape == w.shape and close(g, w, rtol, atol)
                    for g, w in zip(got, want))
                why = '' if ok else 'outputs differ from PyTorch'
            except Exception as e:  # noqa: BLE001 - static shapes
                ok, why = False, str(e).splitlines()[0][:200]
            if ok:
                break
            if not dynamic_hw:
                raise ExportError(
                    f'the exported graph does not give PyTorch\'s outputs at '
                    f'batch 2 ({why}); it cannot be deployed with a dynamic '
                    'batch')
            note = why
        info = dict(meta or {})
        info.update(
            opset=opset, exporter=f'torch.onnx TorchScript exporter '
            f'(dynamo=False), torch {torch.__version__}',
            input=dict(name=INPUT_NAME, shape=['batch', inputs.shape[1]] + (
                ['height', 'width'] if dynamic_hw else
                list(inputs.shape[2:])), traced_shape=list(inputs.shape),
                dtype='float32'),
            outputs=wrapper.output_names(), dynamic_batch=True,
            dynamic_hw=dynamic_hw)
        if not dynamic_hw:
            info['static_hw_reason'] = note
        if wrapper.task == 'det':
            info['output_groups'] = wrapper.output_groups
            info['levels'] = wrapper.levels
        os.replace(tmp, out)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    text = json.dumps(info, indent=2, default=str)
    tmp_meta = f'{meta_path}.{os.getpid()}.tmp'
    try:
        with open(tmp_meta, 'w') as f:
            f.write(text + '\n')
        os.replace(tmp_meta, meta_path)
    finally:
        if osp.exists(tmp_meta):
            os.remove(tmp_meta)
    return info


def _as_tuple(out) -> Sequence[torch.Tensor]:
    return tuple(out) if isinstance(out, (tuple, list)) else (out, )
