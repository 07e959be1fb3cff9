"""The tensors in a model's nested outputs and inputs (tuples, lists,
dicts, namedtuples): found (the in-place probe, the BN-folding trace and
check) and mapped (what the teacher recorders apply to each record)."""
from typing import Iterator

from torch import Tensor


def tensors_in(obj) -> Iterator[Tensor]:
    """The tensors in ``obj`` (nested tuples, lists and dicts)."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from tensors_in(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from tensors_in(o)


def map_tensors(obj, fn):
    """``obj`` with ``fn`` applied to its tensors (nested tuples, lists and
    dicts rebuilt; other objects unchanged)."""
    if isinstance(obj, Tensor):
        return fn(obj)
    if isinstance(obj, tuple) and hasattr(obj, '_fields'):  # namedtuple
        return type(obj)(*(map_tensors(o, fn) for o in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(map_tensors(o, fn) for o in obj)
    if isinstance(obj, dict):
        return type(obj)((k, map_tensors(v, fn)) for k, v in obj.items())
    return obj
