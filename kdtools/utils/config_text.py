"""The config text formatted once per content, not once per call.

mmengine's ``Config.pretty_text`` formats the whole config with yapf on
every call: 0.6-0.7 s for a distillation config on a CPU core (0.07 s for a
plain student config). The Runner calls it four times before the first
iteration (the log, the dumped config, the visualizer's config record) and
again at every checkpoint save (``meta['cfg']``). :func:`cache_pretty_text`
makes it compute each distinct config's text once: the text is kept under a
key that is the config's content (``repr`` of its dict, 0.5 ms) and
formatting choice, so a config changed after a call is formatted anew.
"""
from collections import OrderedDict

_CACHE: 'OrderedDict[tuple, str]' = OrderedDict()
_CACHE_SIZE = 16
_PATCHED = False


def cache_pretty_text() -> None:
    """Install the cached ``Config.pretty_text``. Idempotent."""
    global _PATCHED
    if _PATCHED:
        return
    from mmengine.config import Config
    format_text = Config.pretty_text.fget

    def pretty_text(self) -> str:
        key = (repr(self._cfg_dict.to_dict()),
               bool(getattr(self, '_format_python_code', True)))
        text = _CACHE.get(key)
        if text is None:
            text = format_text(self)
            _CACHE[key] = text
            if len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        else:
            _CACHE.move_to_end(key)
        return text

    pretty_text.__doc__ = format_text.__doc__
    Config.pretty_text = property(pretty_text)
    _PATCHED = True
