"""kdtools registries: children of mmengine's roots under scope ``kdtools``.

Scopes, in both directions, with no prefixes needed:

* **kdtools' types from any default scope.** A distillation config that
  inherits a stock mmdet/mmseg/mmpretrain config runs in that library's
  default scope (``default_scope='mmdet'``). mmengine then looks a bare name
  up in mmdet's registry and, failing that, only in its *parents* (the root),
  never in a sibling such as kdtools' (``Registry.get``). So every kdtools
  type is registered in kdtools' registry *and* under the same name in the
  root registry (unless the root already has that name): ``Distiller``,
  the losses, recorders, hooks, the optim wrapper constructor and the
  datasets then resolve bare from every scope, while a library's own names
  still win in its own scope. Registration happens when kdtools' modules
  are imported (:func:`kdtools.utils.register_all_modules`, the tools, or
  ``custom_imports=dict(imports=['kdtools.models', 'kdtools.engine',
  'kdtools.datasets'])``).
* **Other libraries' types from kdtools' scope.** mmengine builds
  ``type='mmdet.GFL'`` from mmdet's registry but runs GFL's constructor in
  the *default* scope; GFL's code then asks for bare names (its head's
  default ``DistancePointBBoxCoder``, the config's ``AnchorGenerator``) in
  kdtools' registry, which does not have them. A name kdtools' registry
  lacks is therefore looked up (:meth:`KDToolsRegistry.get`) in the registry
  of the library whose code is asking (the innermost mmdet/mmseg/mmpretrain
  frame on the call stack, exactly the scope mmengine would have used had
  the dict carried ``_scope_``), then in the root, then in the one sibling
  library that has it (``'kdtools.X'`` asks kdtools' own types only). A name several libraries
  have (``ResNet``) asked for by no library's code is refused, naming the
  prefixes that pick one. This makes kdtools' own configs build with plain
  mmengine (``Config.fromfile`` + ``Runner.from_cfg``), not only through
  :func:`kdtools.utils.load_config` (whose :func:`resolve_scopes` sets
  ``_scope_`` explicitly).

Where a name is found nowhere, :class:`~kdtools.utils.errors.RegistryError`
names it, the registries searched and the prefix or scope that fixes it;
:func:`explain_registry_error` adds the same advice to mmengine's own
``KeyError`` from another library's registry.
"""
import re
import sys
from typing import List, Optional, Type

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import \
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

from kdtools.utils.errors import RegistryError

SCOPE = 'kdtools'


def _asking_library(libraries) -> Optional[str]:
    """The library (a scope among ``libraries``, or ``'kdtools'``) whose code
    is asking for a type: the top-level package of the innermost frame on the
    call stack that belongs to one of them (mmengine's and mmcv's own frames,
    users' and this module's are skipped). None when no such frame."""
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get('__name__') or ''
        top = module.partition('.')[0]
        if top == SCOPE and module != __name__:
            return SCOPE
        if top in libraries:
            return top
        frame = frame.f_back
    return None


class KDToolsRegistry(Registry):
    """A kdtools registry (scope ``kdtools``): its types are also registered
    in the root, and a bare name it lacks resolves in the library asking for
    it or the one library that has it (see the module docstring for why)."""

    def _register_module(self, module: Type, module_name=None,
                         force: bool = False) -> None:
        super()._register_module(module, module_name, force)
        names = module_name or module.__name__
        root = self._get_root_registry()
        for name in [names] if isinstance(names, str) else names:
            held = root._module_dict.get(name)
            # the root's own (mmengine's, mmcv's) names win: they stay
            # reachable as 'kdtools.<name>'
            if held is None or getattr(held, '__module__',
                                       '').startswith(f'{SCOPE}.'):
                root._module_dict[name] = module

    def siblings(self) -> dict:
        """scope -> registry of the same kind of the other libraries
        (mmdet's, mmseg's, mmpretrain's), their modules imported."""
        out = {}
        children = self.parent._children if self.parent is not None else {}
        for scope, registry in sorted(children.items()):
            if scope != self.scope:
                registry.import_from_location()
                out[scope] = registry
        return out

    def owners(self, name: str) -> List[str]:
        """The scopes (kdtools' and the siblings') that register ``name``;
        ``'mmengine'`` for a name only the root has."""
        self.import_from_location()
        found = [self.scope] if name in self._module_dict else []
        found += [s for s, r in self.siblings().items()
                  if name in r._module_dict]
        root = self._get_root_registry()
        if not found and name in root._module_dict:
            found.append(root.scope)
        return found

    def get(self, key: str):
        scope, name = self.split_scope_key(key)
        # 'kdtools.X' (or mmengine's root asking for it): kdtools' own only
        explicit = scope is not None or \
            sys._getframe(1).f_code is Registry.get.__code__
        self.import_from_location()
        if scope in (None, self.scope) and name in self._module_dict:
            return self._module_dict[name]
        found = None
        if not explicit:
            # in the scope of the library whose code asks, as mmengine does
            # for a dict with ``_scope_``
            libraries = set(self.parent._children) if self.parent else set()
            lib = _asking_library(libraries - {self.scope})
            if lib is not None and lib != self.scope:
                found = self.parent._children[lib].get(name)
        if found is None:
            found = super().get(key)  # the root, or the scope ``key`` names
        if found is None and not explicit:
            owners = [s for s in self.owners(name) if s != self.scope]
            if len(owners) == 1:
                found = self.siblings()[owners[0]].get(name)
            elif owners:
                raise RegistryError(ambiguous_message(name, self.name,
                                                      owners, self.scope))
        if found is None:
            asked = f'{self.scope}.{name}' if explicit and scope is None \
                else key
            raise RegistryError(missing_message(asked, self))
        return found

    def __contains__(self, key: str) -> bool:
        try:
            return self.get(key) is not None
        except KeyError:
            return False


def ambiguous_message(name: str, kind: str, owners: List[str],
                      scope: str) -> str:
    options = ', '.join(f"'{s}.{name}'" for s in owners)
    return (f"{name!r} is ambiguous in the {scope!r} scope: "
            f"{', '.join(owners)} each have a {kind} of that name; write "
            f"type= one of {options}, or build it in its library's scope "
            f"(default_scope='{owners[0]}' or _scope_='{owners[0]}')")


def missing_message(key: str, registry: KDToolsRegistry,
                    default_scope: Optional[str] = None) -> str:
    """Why ``key`` is not found (in ``default_scope``'s registry of the
    kind of ``registry``) and which prefix or scope fixes it."""
    scope, name = Registry.split_scope_key(key)
    where = scope or default_scope or registry.scope
    owners = [s for s in registry.owners(name) if s != where]
    searched = ', '.join([registry.scope, *registry.siblings(), 'mmengine'])
    if not owners:
        return (f"{name!r} is in no registry of {registry.name}s "
                f"({searched}): check the spelling, or import the module "
                "that registers it (custom_imports=dict(imports=[...]))")
    head = (f"{key!r}: {scope} has no {registry.name} {name!r}" if scope
            else f"{name!r} is not in the {where!r} scope's {registry.name}"
            " registry")
    fix = ' or '.join(f"type='{s}.{name}'" for s in owners)
    if SCOPE in owners:
        fix += (" (kdtools' types resolve bare from any scope once kdtools' "
                'modules are registered: kdtools.utils.register_all_modules'
                '(init_default_scope=False))')
    return f'{head}; it is registered in {", ".join(owners)}: write {fix}'


_MMENGINE_MISSING = re.compile(
    r"^(?P<key>\S+) is not in the (?P<scope>[\w.]+)::(?P<kind>.+?) registry")


def explain_registry_error(error: BaseException) -> Optional[str]:
    """For mmengine's ``KeyError('X is not in the mmdet::model registry.
    ...')``: the same in one line plus which prefix or scope fixes it
    (None for any other error)."""
    if isinstance(error, RegistryError) or not isinstance(error, KeyError):
        return None
    match = _MMENGINE_MISSING.match(str(error.args[0]) if error.args else '')
    if match is None:
        return None
    for registry in _ALL:
        if registry.name == match['kind']:
            return missing_message(match['key'], registry, match['scope'])
    return None


def _registry(name: str, parent: Registry, locations=()) -> KDToolsRegistry:
    return KDToolsRegistry(name, parent=parent, scope=SCOPE,
                           locations=list(locations))


MODELS = _registry('model', MMENGINE_MODELS, ['kdtools.models'])
MODEL_WRAPPERS = _registry('model_wrapper', MMENGINE_MODEL_WRAPPERS)
WEIGHT_INITIALIZERS = _registry('weight initializer',
                                MMENGINE_WEIGHT_INITIALIZERS)
TASK_UTILS = _registry('task util', MMENGINE_TASK_UTILS)

DATASETS = _registry('dataset', MMENGINE_DATASETS, ['kdtools.datasets'])
DATA_SAMPLERS = _registry('data sampler', MMENGINE_DATA_SAMPLERS)
TRANSFORMS = _registry('transform', MMENGINE_TRANSFORMS, ['kdtools.datasets'])

HOOKS = _registry('hook', MMENGINE_HOOKS, ['kdtools.engine'])
LOOPS = _registry('loop', MMENGINE_LOOPS, ['kdtools.engine'])
OPTIMIZERS = _registry('optimizer', MMENGINE_OPTIMIZERS)
OPTIM_WRAPPERS = _registry('optim_wrapper', MMENGINE_OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _registry(
    'optimizer wrapper constructor', MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    ['kdtools.engine'])
PARAM_SCHEDULERS = _registry('parameter scheduler',
                             MMENGINE_PARAM_SCHEDULERS)

METRICS = _registry('metric', MMENGINE_METRICS)
EVALUATOR = _registry('evaluator', MMENGINE_EVALUATOR)
VISUALIZERS = _registry('visualizer', MMENGINE_VISUALIZERS)
VISBACKENDS = _registry('vis_backend', MMENGINE_VISBACKENDS)
LOG_PROCESSORS = _registry('log_processor', MMENGINE_LOG_PROCESSORS)
FUNCTIONS = _registry('function', MMENGINE_FUNCTIONS)

_ALL = [MODELS, MODEL_WRAPPERS, WEIGHT_INITIALIZERS, TASK_UTILS, DATASETS,
        DATA_SAMPLERS, TRANSFORMS, HOOKS, LOOPS, OPTIMIZERS, OPTIM_WRAPPERS,
        OPTIM_WRAPPER_CONSTRUCTORS, PARAM_SCHEDULERS, METRICS, EVALUATOR,
        VISUALIZERS, VISBACKENDS, LOG_PROCESSORS, FUNCTIONS]
