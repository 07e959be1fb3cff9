"""ONNX Runtime beside PyTorch: sessions, parity on real images, latency.

Parity compares every output of the exported graph with the PyTorch
student's on the same preprocessed images, within ``|onnx - torch| <= atol
+ rtol * |torch|`` (defaults :data:`RTOL`, :data:`ATOL`), and what the
task's user sees: the same top-1 class (classification), the same
per-pixel class (segmentation), and for detection the same boxes after the
mmdet head's own ``predict_by_feat`` (score threshold and NMS) decodes the
ONNX outputs, against the PyTorch model's ``predict``.
"""
import statistics
import time
from typing import Callable, List, Optional, Sequence

import numpy as np
import torch

#: relative and absolute tolerance of an ONNX output against PyTorch's
RTOL = 1e-3
ATOL = 1e-4
#: detection: largest box coordinate (pixels) and score difference accepted
BOX_ATOL = 1e-2
SCORE_ATOL = 1e-4


def threads() -> int:
    """The CPU threads both runtimes are given: torch's intra-op count
    (``OMP_NUM_THREADS`` when set)."""
    return torch.get_num_threads()


def ort_session(path: str, num_threads: Optional[int] = None):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = num_threads or threads()
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(path, opts,
                                providers=['CPUExecutionProvider'])


def run_session(sess, inputs, quiet: bool = False) -> List[np.ndarray]:
    """The session's outputs on ``inputs``; ``quiet``: a failure raises
    without ONNX Runtime's own log line."""
    x = inputs.numpy() if torch.is_tensor(inputs) else inputs
    name = sess.get_inputs()[0].name
    run_options = None
    if quiet:
        import onnxruntime as ort
        run_options = ort.RunOptions()
        run_options.log_severity_level = 4
    return sess.run(None, {name: np.ascontiguousarray(x, dtype=np.float32)},
                    run_options)


def close(got: np.ndarray, want: np.ndarray, rtol: float = RTOL,
          atol: float = ATOL) -> bool:
    return bool(np.all(np.abs(got - want) <= atol + rtol * np.abs(want)))


def _excess(got, want, rtol, atol) -> float:
    """Largest ``|got - want| / (atol + rtol |want|)``: <= 1 is within."""
    return float(np.max(np.abs(got - want) / (atol + rtol * np.abs(want))))


def _det_boxes(wrapper, outputs, samples):
    """mmdet's ``predict_by_feat`` on outputs (tensors or arrays)."""
    tensors = [torch.as_tensor(o) for o in outputs]
    metas = [s.metainfo for s in samples]
    head = wrapper.model.bbox_head
    return head.predict_by_feat(*wrapper.group(tensors),
                                batch_img_metas=metas, rescale=True)


def parity(wrapper, sess, batches, rtol: float = RTOL,
           atol: float = ATOL) -> dict:
    """Compare ``sess`` (the exported ``wrapper``) with ``wrapper`` on
    ``batches`` of ``(inputs, data_samples)``; returns a report whose
    ``ok`` is the verdict."""
    rep = dict(task=wrapper.task, images=0, rtol=rtol, atol=atol, max_abs_diff=0.0,
               max_excess=0.0, outputs_ok=True)
    if wrapper.task == 'det':
        rep.update(boxes=0, boxes_ok=True, max_box_diff=0.0,
                   max_score_diff=0.0, box_atol=BOX_ATOL,
                   score_atol=SCORE_ATOL)
    else:
        rep.update(labels_same=0, labels=0)
    wrapper.eval()
    for inputs, samples in batches:
        with torch.no_grad():
            want = wrapper(inputs)
        want = list(want) if isinstance(want, (tuple, list)) else [want]
        got = run_session(sess, inputs)
        rep['images'] += len(inputs)
        for g, w in zip(got, want):
            w = w.numpy()
            if g.shape != w.shape:
                rep['outputs_ok'] = False
                rep['shape_mismatch'] = [list(g.shape), list(w.shape)]
                continue
            rep['max_abs_diff'] = max(rep['max_abs_diff'],
                                      float(np.max(np.abs(g - w))))
            rep['max_excess'] = max(rep['max_excess'],
                                    _excess(g, w, rtol, atol))
        if wrapper.task in ('cls', 'seg'):
            a = np.argmax(got[0], axis=1)
            b = np.argmax(want[0].numpy(), axis=1)
            rep['labels'] += int(a.size)
            rep['labels_same'] += int((a == b).sum())
        else:
            with torch.no_grad():
                ref = wrapper.model.predict(inputs, samples, rescale=True)
                dec = _det_boxes(wrapper, got, samples)
            for r, d in zip(ref, dec):
                r = r.pred_instances
                rep['boxes'] += len(r)
                if len(r) != len(d) or not torch.equal(r.labels, d.labels):
                    rep['boxes_ok'] = False
                    continue
                if len(r):
                    rep['max_box_diff'] = max(rep['max_box_diff'], float(
                        (r.bboxes - d.bboxes).abs().max()))
                    rep['max_score_diff'] = max(rep['max_score_diff'], float(
                        (r.scores - d.scores).abs().max()))
    rep['outputs_ok'] = rep['outputs_ok'] and rep['max_excess'] <= 1.0
    if wrapper.task == 'det':
        rep['boxes_ok'] = rep['boxes_ok'] and \
            rep['max_box_diff'] <= BOX_ATOL and \
            rep['max_score_diff'] <= SCORE_ATOL
        rep['ok'] = rep['outputs_ok'] and rep['boxes_ok']
    else:
        rep['agreement'] = rep['labels_same'] / max(rep['labels'], 1)
        rep['ok'] = rep['outputs_ok'] and rep['labels_same'] == rep['labels']
    return rep


def median_seconds(fn: Callable[[], object], iters: int = 20,
                   warmup: int = 3) -> float:
    """Median wall seconds of ``fn()`` over ``iters`` calls after
    ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def batch_of(images: Sequence[torch.Tensor], n: int) -> torch.Tensor:
    """``n`` preprocessed images (cycled) as one batch (same size)."""
    images = list(images)
    return torch.stack([images[i % len(images)] for i in range(n)])


def latency(wrapper, images: Sequence[torch.Tensor],
            onnx_path: Optional[str] = None, batch_sizes=(1, 8),
            iters: int = 20, warmup: int = 3) -> dict:
    """Milliseconds per image of PyTorch eager (``torch.no_grad``) and, with
    ``onnx_path``, ONNX Runtime (CPU provider), at each batch size: the
    median of ``iters`` batches after ``warmup``, divided by the batch
    size; both on :func:`threads` threads."""
    out = dict(threads=threads(), iters=iters, warmup=warmup)
    sess = ort_session(onnx_path) if onnx_path else None
    wrapper.eval()
    for bs in batch_sizes:
        x = batch_of(images, bs)
        with torch.no_grad():
            out[f'torch_b{bs}_ms'] = median_seconds(
                lambda: wrapper(x), iters, warmup) * 1000 / bs
        if sess is not None:
            xn = np.ascontiguousarray(x.numpy())
            out[f'onnx_b{bs}_ms'] = median_seconds(
                lambda: run_session(sess, xn), iters, warmup) * 1000 / bs
    return out
