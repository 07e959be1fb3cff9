"""kdtools models: distillers, recorders, adapters, backbones, heads and
losses."""
from .adapters import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .datafree import *  # noqa: F401,F403
from .distillers import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .recorders import *  # noqa: F401,F403
