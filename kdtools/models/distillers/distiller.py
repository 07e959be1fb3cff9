import inspect
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.config import ConfigDict
from mmengine.logging import MessageHub, print_log
from mmengine.model import BaseModel
from torch import Tensor, nn

from kdtools.registry import MODELS
from kdtools.utils.config import resolve_scopes
from kdtools.utils.errors import ConfigError
from ..recorders import RecorderManager
from .teacher import disable_inplace, freeze, load_strict, model_cfg_from

_REF = re.compile(
    r'^(student|teachers|teacher|data)(?::(\w+))?\.(\w+)((?:\.-?\d+)*)$')


class _InputRef:
    """Where a loss argument comes from: ``'student.fpn.0'``,
    ``'teacher.fpn.0'`` (every teacher, the loss computed per teacher),
    ``'teacher:t1.fpn.0'`` (one teacher) or ``'teachers.logits'`` (the list
    of every teacher's value in the order of ``teachers``: the loss sees
    them all at once). The trailing integers index into the recorded output (FPN
    level, tuple element); ``call`` picks a call of a module called several
    times (default: the last). ``'data.inputs'`` is the preprocessed batch
    and ``'data.<field>'`` the data samples' field stacked (e.g.
    ``'data.gt_sem_seg'``, ``(N, 1, H, W)``)."""

    def __init__(self, spec, owner: str):
        call = -1
        if isinstance(spec, dict):
            spec = dict(spec)
            call = spec.pop('call', -1)
            text = spec.pop('ref', None)
            if text is None or spec:
                raise ConfigError(f'{owner}: input {spec!r} must be a string '
                                  'like "student.fpn.0" or dict(ref=..., '
                                  'call=N)')
            spec = text
        m = _REF.match(str(spec))
        if m is None:
            raise ConfigError(
                f'{owner}: input {spec!r} is not "student.<recorder>[.i]", '
                '"teacher.<recorder>[.i]", "teacher:<name>.<recorder>[.i]", '
                '"teachers.<recorder>[.i]" or "data.<field>"')
        self.side, self.teacher, self.recorder = m.group(1), m.group(2), \
            m.group(3)
        if self.side != 'teacher' and self.teacher:
            raise ConfigError(f'{owner}: input {spec!r}: only "teacher:" '
                              'names one teacher')
        self.indices = [int(i) for i in m.group(4).split('.') if i]
        self.call = call
        self.text = spec

    def fetch(self, manager: RecorderManager):
        if self.side == 'data':
            return manager.field(self.recorder)
        item = manager[self.recorder].get(self.call)
        for i in self.indices:
            item = item[i]
        return item


class _DistillTerm:
    """One configured distillation loss: the module, its input wiring and
    its adapter."""

    def __init__(self, name, loss, inputs, adapter_cfg, schedule):
        self.name = name
        self.loss = loss
        self.inputs = inputs  # arg -> _InputRef
        self.adapter_cfg = adapter_cfg
        self.schedule = schedule or {}

    @property
    def teacher_args(self):
        return [a for a, r in self.inputs.items() if r.side == 'teacher']

    @property
    def all_teachers_args(self):
        """Arguments fed the list of every teacher's value."""
        return [a for a, r in self.inputs.items() if r.side == 'teachers']

    @property
    def student_args(self):
        return [a for a, r in self.inputs.items() if r.side == 'student']

    @property
    def data_args(self):
        return [a for a, r in self.inputs.items() if r.side == 'data']


class _Batch:
    """The current batch, for ``data.<field>`` inputs."""

    def __init__(self, inputs, data_samples) -> None:
        self.inputs = inputs
        self.data_samples = data_samples

    def field(self, name: str):
        if name == 'inputs':
            return self.inputs
        values = []
        for ds in self.data_samples or []:
            if name not in ds:
                raise KeyError(f'"data.{name}": the data samples have no '
                               f'{name!r}; they have {sorted(ds.keys())}')
            value = getattr(ds, name)
            values.append(getattr(value, 'data', value))
        return torch.stack(values)


def _unwrap(module: nn.Module) -> nn.Module:
    """The module inside a (separate) DDP wrapper."""
    return module.module if hasattr(module, 'module') and isinstance(
        module, nn.parallel.DistributedDataParallel) else module


def _switched_on(cfgs: Optional[dict]) -> dict:
    """The entries of ``distill_losses`` / ``head_distillers`` not set to
    None (None switches an inherited term off)."""
    return {k: v for k, v in (cfgs or {}).items() if v is not None}


@MODELS.register_module()
class Distiller(BaseModel):
    """A student trained with frozen teachers: the model the Runner sees.

    Data flow (one training step): the student's data preprocessor ->
    every teacher forward under ``torch.no_grad()`` and only as far as its
    recorders need (backbone, backbone+neck, or the whole ``tensor`` mode)
    -> the student's ``loss`` (its recorders capture features) -> adapters
    -> distillation losses -> one loss dict: ``student.<task loss>`` and
    ``distill.<loss name>``. ``predict`` and ``tensor`` are the student's
    alone, so MMLab evaluators and visualisers work unchanged.

    Teachers are frozen (no gradients, always eval mode so BN statistics
    never move, in-place activations off), loaded strictly from their
    checkpoints, and kept out of the distiller's state dict (so out of its
    checkpoints) unless ``teacher_in_checkpoint=True``: on resume they are
    rebuilt from their own checkpoints.

    Args:
        student (dict): the student model config (a model dict, typically
            ``{{_base_.model}}``) or ``dict(config=PATH)``.
        teachers (dict): name -> ``dict(config=..., checkpoint=...,
            recorders=None, trust_checkpoint=False)``; ``config`` is a path,
            an ``mmdet::`` style package config, a Config or a dict.
        teacher (dict, optional): shorthand for ``teachers=dict(teacher=...)``.
        student_recorders (dict): name -> ``dict(type='ModuleOutputs',
            source='neck')`` (or a bare module path).
        teacher_recorders (dict): recorders every teacher gets (a teacher's
            own ``recorders`` key overrides them).
        distill_losses (dict): name -> loss config plus ``inputs`` (loss
            argument -> ``'student.<rec>[.i]'`` / ``'teacher.<rec>[.i]'``) and
            optionally ``adapter`` (e.g. ``dict(type='ConvAdapter')``, applied
            to the student-side inputs; channels inferred). Every name must
            contain ``loss`` (mmengine sums only such keys).
        head_distillers (dict, optional): name -> head distiller config
            (``GFLHeadDistiller``, ``AnchorHeadDistiller``,
            ``RoIHeadDistiller``): distillation that needs the student head's
            own assignment (positives, regression targets, sampled RoIs).
            Their recorders are installed automatically; their losses appear
            as ``distill.<name>.<loss>``. In both dicts an entry set to
            ``None`` is switched off (e.g. ``--cfg-options
            model.head_distillers.rpn=None`` for an ablation).
        teacher_weights (dict, optional): name -> weight for combining one
            loss over several teachers; default: the mean.
        loss_schedules (dict, optional): loss name -> ``dict(warmup_iters=N,
            start_iter=0, start_epoch=0, stop_iter=None, stop_epoch=None)``:
            the weight is 0 before ``start_iter`` / ``start_epoch``, rises
            linearly from 0 over ``warmup_iters`` and is 0 from
            ``stop_iter`` / ``stop_epoch`` on. The key ``student`` schedules
            the student's own task losses: while their weight is 0 the
            student runs only as far as its recorders need (no task loss,
            no gradient to the rest), e.g. FSP's stage 1 (Yim et al.):
            ``dict(student=dict(start_epoch=E), loss_fsp=dict(stop_epoch=E))``.
            Terms whose weight is 0 are not computed (logged as 0) and a
            teacher no active term needs is not run.
        student_loss_weight (float): multiplies the student's own task
            losses (default 1); 0 when a distillation loss carries the label
            term itself (DeiT's ``MultiTeacherDistillationLoss``): the
            student then runs only as far as its recorders need.
        teacher_cache (bool): keep, per training sample (the data samples'
            ``sample_idx``), what the distillation terms read from the
            teachers, and skip the teacher forward for a batch whose samples
            are all kept. Only right when the training pipeline is
            deterministic (a sample is the same input every epoch): the
            teachers never change. A loss with ``teacher_summary(**teacher
            inputs)`` keeps that instead of the features (FSP: the
            matrices, as Yim et al. do). Kept on the device the teacher runs
            on. Not for ``teachers.`` inputs, head distillers or the
            adversarial term. Defaults to False.
        input_shape (tuple): ``(C, H, W)`` of the dummy input used at build
            time to infer adapter channels from recorded shapes.
        teacher_in_checkpoint (bool): keep teacher weights in the
            distiller's state dict. Defaults to False.
        discriminator (dict, optional): holistic (adversarial) distillation
            (Liu et al., CVPR 2019): a critic, e.g.
            ``dict(type='ScoreMapDiscriminator')`` (``in_channels``
            inferred), trained as a Wasserstein critic with gradient penalty
            by its own optimizer (``optim_wrapper`` with
            ``constructor='DistillerOptimWrapperConstructor'`` and keys
            ``student`` and ``discriminator``).
        adversarial (dict, optional): ``student`` / ``teacher`` inputs (the
            score maps, default ``'student.logits'`` / ``'teacher.logits'``),
            ``loss_weight`` of the student's term (0.1), ``gp_weight`` (10),
            ``d_steps`` critic updates per student update (1),
            ``condition_on_image`` (True).
    """

    def __init__(self,
                 student: dict,
                 teachers: Optional[Dict[str, dict]] = None,
                 teacher: Optional[dict] = None,
                 student_recorders: Optional[dict] = None,
                 teacher_recorders: Optional[dict] = None,
                 distill_losses: Optional[dict] = None,
                 head_distillers: Optional[dict] = None,
                 teacher_weights: Optional[Dict[str, float]] = None,
                 loss_schedules: Optional[Dict[str, dict]] = None,
                 student_loss_weight: float = 1.0,
                 teacher_cache: bool = False,
                 input_shape: Sequence[int] = (3, 128, 128),
                 teacher_in_checkpoint: bool = False,
                 discriminator: Optional[dict] = None,
                 adversarial: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        distill_losses = _switched_on(distill_losses)
        head_distillers = _switched_on(head_distillers)
        if teacher is not None:
            if teachers:
                raise ConfigError('give either teacher=... or teachers=...')
            teachers = dict(teacher=teacher)
        if not teachers:
            raise ConfigError('Distiller: no teacher given (teacher=dict('
                              'config=..., checkpoint=...))')
        student_cfg = model_cfg_from(student['config'], 'student') \
            if 'config' in student and 'type' not in student \
            else ConfigDict(resolve_scopes(dict(student)))
        built_student = MODELS.build(student_cfg)
        if data_preprocessor is None:
            data_preprocessor = built_student.data_preprocessor
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.student = built_student
        # in-place activations could overwrite recorded features; head
        # distillers record head outputs and targets only, which nothing
        # modifies, so a model keeps them when it has no feature recorders
        if student_recorders:
            disable_inplace(self.student)
        self.head_distillers = self._build_head_distillers(
            head_distillers or {})
        hd_student_recs, hd_teacher_recs = {}, {}
        for hd_name, hd in self.head_distillers.items():
            for key, cfg in hd.student_recorders().items():
                hd_student_recs[f'{hd_name}/{key}'] = cfg
            for key, cfg in hd.teacher_recorders().items():
                hd_teacher_recs[f'{hd_name}/{key}'] = cfg

        # teachers: frozen, hidden from the module tree unless asked
        built = OrderedDict()
        self.teacher_recorders: Dict[str, RecorderManager] = {}
        for name, tcfg in teachers.items():
            tcfg = dict(tcfg)
            owner = f'teachers.{name}'
            unknown = set(tcfg) - {'config', 'checkpoint', 'recorders',
                                   'trust_checkpoint'}
            if unknown or 'config' not in tcfg:
                raise ConfigError(
                    f'{owner}: expected keys config, checkpoint (recorders, '
                    f'trust_checkpoint optional); got {sorted(tcfg)}')
            model = MODELS.build(model_cfg_from(tcfg['config'], owner))
            load_strict(model, tcfg.get('checkpoint'), owner,
                        trusted=tcfg.get('trust_checkpoint') or None)
            freeze(model)
            if tcfg.get('recorders', teacher_recorders):
                disable_inplace(model)
            built[name] = model
            recs = dict(tcfg.get('recorders', teacher_recorders) or {})
            recs.update(hd_teacher_recs)
            self.teacher_recorders[name] = RecorderManager(
                recs, model, f'{owner}.recorders' if 'recorders' in tcfg
                else 'teacher_recorders')
            for hd_name, hd in self.head_distillers.items():
                hd.check(self.student, model, name,
                         f'head_distillers.{hd_name}')
        self.teacher_in_checkpoint = teacher_in_checkpoint
        if teacher_in_checkpoint:
            self.teachers = nn.ModuleDict(built)
        else:
            object.__setattr__(self, '_hidden_teachers', built)
        student_recorders = dict(student_recorders or {})
        student_recorders.update(hd_student_recs)
        self.student_recorders = RecorderManager(student_recorders,
                                                 self.student,
                                                 'student_recorders')

        weights = teacher_weights or {n: 1.0 for n in built}
        unknown = set(weights) - set(built)
        if unknown:
            raise ConfigError(f'teacher_weights names {sorted(unknown)}; the '
                              f'teachers are {sorted(built)}')
        total = sum(weights.get(n, 0.0) for n in built)
        self.teacher_weights = {n: weights.get(n, 0.0) / total for n in built}

        loss_schedules = dict(loss_schedules or {})
        for name, sched in loss_schedules.items():
            self._check_schedule(f'loss_schedules.{name}', sched)
        self.student_schedule = dict(loss_schedules.pop('student', None) or {})
        if student_loss_weight < 0:
            raise ConfigError(f'student_loss_weight={student_loss_weight}; '
                              'expected >= 0')
        self.student_loss_weight = float(student_loss_weight)
        self.head_schedules = {n: loss_schedules.pop(n)
                               for n in list(loss_schedules)
                               if n in self.head_distillers}
        self.terms = self._build_terms(distill_losses or {}, loss_schedules)
        self.teacher_cache = bool(teacher_cache)
        self._teacher_cache: Dict[str, Dict[str, dict]] = {}
        self._cached_idx = self._batch_idx = None
        if self.teacher_cache:
            if self.head_distillers or discriminator is not None or any(
                    t.all_teachers_args for t in self.terms):
                raise ConfigError(
                    'teacher_cache=True keeps what "teacher." inputs of '
                    'distill_losses read; it does not cover head_distillers, '
                    'the adversarial term or "teachers." inputs')
        self.distill_losses = nn.ModuleDict(
            {t.name: t.loss for t in self.terms})
        self.adapters = nn.ModuleDict()
        self.adv = self._adversarial_cfg(discriminator, adversarial)
        if self.terms or self.adv:
            self._build_adapters(tuple(input_shape))
        if self.adv:
            self._build_discriminator(discriminator)
        self._register_load_state_dict_pre_hook(self._accept_plain_student)
        self._register_state_dict_hook(self._strip_ddp_wrappers)

    # ------------------------------------------------------------------
    # build-time wiring
    @property
    def teacher_models(self) -> Dict[str, nn.Module]:
        if self.teacher_in_checkpoint:
            return dict(self.teachers.items())
        return self._hidden_teachers

    @staticmethod
    def _build_head_distillers(cfgs: dict) -> nn.ModuleDict:
        built = nn.ModuleDict()
        for name, cfg in cfgs.items():
            cfg = dict(cfg)
            cfg.pop('_scope_', None)
            if 'type' not in cfg:
                raise ConfigError(
                    f'head_distillers.{name}: no type (GFLHeadDistiller, '
                    'AnchorHeadDistiller, RoIHeadDistiller)')
            if not re.fullmatch(r'\w+', name):
                raise ConfigError(f'head_distillers: name {name!r} must be '
                                  'a Python identifier')
            built[name] = MODELS.build(cfg)
        return built

    def _build_terms(self, losses_cfg, schedules) -> List[_DistillTerm]:
        unknown = set(schedules) - set(losses_cfg)
        if unknown:
            raise ConfigError(f'loss_schedules names {sorted(unknown)}, '
                              'which are not in distill_losses '
                              f'{sorted(losses_cfg)} or head_distillers '
                              f'{sorted(self.head_distillers)}')
        terms = []
        for name, cfg in losses_cfg.items():
            owner = f'distill_losses.{name}'
            if 'loss' not in name:
                raise ConfigError(
                    f'{owner}: mmengine sums only loss-dict keys containing '
                    f'"loss", so {name!r} would be silently not trained; '
                    f'rename it, e.g. "loss_{name}"')
            cfg = dict(cfg)
            inputs_cfg = cfg.pop('inputs', None)
            adapter_cfg = cfg.pop('adapter', None)
            if not inputs_cfg:
                raise ConfigError(f'{owner}: no inputs= (loss argument -> '
                                  '"student.<recorder>" / '
                                  '"teacher.<recorder>")')
            cfg.pop('_scope_', None)
            loss = MODELS.build(cfg)
            inputs = {arg: _InputRef(ref, f'{owner}.inputs.{arg}')
                      for arg, ref in inputs_cfg.items()}
            self._check_signature(owner, loss, inputs)
            for arg, ref in inputs.items():
                where = f'{owner}.inputs.{arg}'
                if ref.side == 'student' and \
                        ref.recorder not in self.student_recorders:
                    raise ConfigError(
                        f'{where}: {ref.text!r} names student recorder '
                        f'{ref.recorder!r}; student_recorders are '
                        f'{sorted(self.student_recorders.recorders)}')
                if ref.side in ('teacher', 'teachers'):
                    names = [ref.teacher] if ref.teacher else \
                        list(self.teacher_recorders)
                    for t in names:
                        if t not in self.teacher_recorders:
                            raise ConfigError(
                                f'{where}: no teacher named {t!r}; teachers '
                                f'are {sorted(self.teacher_recorders)}')
                        if ref.recorder not in self.teacher_recorders[t]:
                            raise ConfigError(
                                f'{where}: {ref.text!r} names recorder '
                                f'{ref.recorder!r}, which teacher {t!r} does '
                                'not have; its recorders are '
                                f'{sorted(self.teacher_recorders[t].recorders)}')
            term = _DistillTerm(name, loss, inputs, adapter_cfg,
                                schedules.get(name))
            if adapter_cfg and not (term.student_args and term.teacher_args):
                raise ConfigError(f'{owner}: an adapter maps a student input '
                                  'to a teacher input; this loss needs both '
                                  '(and "teacher.", not "teachers.", inputs)')
            if term.teacher_args and term.all_teachers_args:
                raise ConfigError(f'{owner}: mixes "teacher." (per teacher) '
                                  'and "teachers." (all at once) inputs')
            terms.append(term)
        return terms

    @staticmethod
    def _check_signature(owner, loss, inputs) -> None:
        params = inspect.signature(loss.forward).parameters
        has_kwargs = any(p.kind == p.VAR_KEYWORD for p in params.values())
        names = [n for n, p in params.items()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        required = [n for n in names if params[n].default is
                    inspect.Parameter.empty]
        unknown = [a for a in inputs if a not in names and not has_kwargs]
        missing = [r for r in required if r not in inputs]
        if unknown or missing:
            sig = f'{type(loss).__name__}.forward({", ".join(names)})'
            what = []
            if unknown:
                what.append(f'it has no argument {unknown}')
            if missing:
                what.append(f'{missing} not wired')
            raise ConfigError(f'{owner}: inputs {sorted(inputs)} do not match '
                              f'{sig}: {"; ".join(what)}')

    def _dummy_forward(self, input_shape):
        """Record one forward of a dummy batch on every side (eval mode), as
        far as the recorders the loss terms read need."""
        x = torch.zeros((1, ) + tuple(input_shape))
        refs = [r for t in self.terms for r in t.inputs.values()]
        if self.adv:
            refs += [self.adv['student'], self.adv['teacher']]
        used = {side: {r.recorder for r in refs
                       if r.side.rstrip('s') == side}
                for side in ('student', 'teacher')}
        was_training = self.student.training
        self.student.eval()
        try:
            with torch.no_grad():
                for name, model in self.teacher_models.items():
                    manager = self.teacher_recorders[name]
                    with manager.record():
                        self._forward_to(model, x, None,
                                         manager.sources_of(used['teacher']))
                with self.student_recorders.record():
                    self._forward_to(
                        self.student, x, None,
                        self.student_recorders.sources_of(used['student']))
        finally:
            self.student.train(was_training)

    def _build_adapters(self, input_shape) -> None:
        """Record a dummy forward; build each term's adapters with channels
        from the recorded shapes; refuse, naming both sides, inputs that a
        loss compares element-wise but that differ in shape (for class
        outputs: different class counts)."""
        self._dummy_forward(input_shape)
        for term in self.terms:
            if not term.adapter_cfg:
                self._check_same_shapes(term)
                continue
            s_ref = term.inputs[term.student_args[0]]
            t_ref = term.inputs[term.teacher_args[0]]
            s_shape = tuple(s_ref.fetch(self.student_recorders).shape)
            per_teacher = nn.ModuleDict()
            for t in self._teachers_of(t_ref):
                t_shape = tuple(t_ref.fetch(self.teacher_recorders[t]).shape)
                if len(s_shape) != 4 or len(t_shape) != 4:
                    raise ConfigError(
                        f'distill_losses.{term.name}.adapter: needs (N, C, H, '
                        f'W) features; student {s_ref.text} is {s_shape}, '
                        f'teacher {t}: {t_ref.text} is {t_shape}')
                cfg = dict(term.adapter_cfg)
                cfg.pop('_scope_', None)
                cfg.setdefault('in_channels', s_shape[1])
                cfg.setdefault('out_channels', t_shape[1])
                if cfg['in_channels'] != s_shape[1]:
                    raise ConfigError(
                        f'distill_losses.{term.name}.adapter: in_channels='
                        f'{cfg["in_channels"]} but student {s_ref.text} is '
                        f'{s_shape}')
                adapter = MODELS.build(cfg)
                if cfg.get('align') == 'none' and s_shape[2:] != t_shape[2:]:
                    raise ConfigError(
                        f'distill_losses.{term.name}.adapter: align="none" '
                        f'but student {s_ref.text} {s_shape} and teacher '
                        f'{t_ref.text} {t_shape} differ in size')
                per_teacher[t] = adapter
            self.adapters[term.name] = per_teacher
        if self.adv:
            s_ref = self.adv['student']
            self._adv_shape = tuple(s_ref.fetch(self.student_recorders).shape)
            for t in self._teachers_of(self.adv['teacher']):
                t_shape = tuple(self.adv['teacher'].fetch(
                    self.teacher_recorders[t]).shape)
                if t_shape[1] != self._adv_shape[1]:
                    raise ConfigError(
                        f'adversarial: the critic compares score maps, but '
                        f'student {s_ref.text} is {self._adv_shape} and '
                        f'teacher {t}: {self.adv["teacher"].text} is '
                        f'{t_shape} (different class counts)')
        for manager in [self.student_recorders,
                        *self.teacher_recorders.values()]:
            for r in manager.recorders.values():
                r.reset()

    def _check_same_shapes(self, term: _DistillTerm) -> None:
        """Build-time shape checks: a loss's own ``check_shapes(shapes)``
        (arg -> shape, teacher-side args per teacher), and for losses that
        compare element-wise (``requires_same_shape``) student against
        teacher."""
        check = getattr(term.loss, 'check_shapes', None)
        t_args = term.teacher_args + term.all_teachers_args
        if check is not None and t_args:
            s_shapes = {a: tuple(term.inputs[a].fetch(
                self.student_recorders).shape) for a in term.student_args}
            for t in self._teachers_of(term.inputs[t_args[0]]):
                shapes = dict(s_shapes)
                shapes.update({a: tuple(term.inputs[a].fetch(
                    self.teacher_recorders[t]).shape) for a in t_args})
                try:
                    check(shapes)
                except ValueError as e:
                    raise ConfigError(
                        f'distill_losses.{term.name}: teacher {t}: {e}') \
                        from None
        if not getattr(term.loss, 'requires_same_shape', False) or \
                not (term.student_args and t_args):
            return
        t_ref = term.inputs[t_args[0]]
        for arg in term.student_args:
            s_ref = term.inputs[arg]
            s_shape = tuple(s_ref.fetch(self.student_recorders).shape)
            for t in self._teachers_of(t_ref):
                t_shape = tuple(t_ref.fetch(self.teacher_recorders[t]).shape)
                if s_shape != t_shape:
                    raise ConfigError(
                        f'distill_losses.{term.name}: {type(term.loss).__name__}'
                        f' compares student {s_ref.text} {s_shape} with '
                        f'teacher {t}: {t_ref.text} {t_shape} element-wise, '
                        'but they differ (for class outputs: different class '
                        'counts); add an adapter or record comparable '
                        'tensors')

    def _teachers_of(self, ref: _InputRef) -> List[str]:
        return [ref.teacher] if ref.teacher else list(self.teacher_recorders)

    def _all_teachers(self, ref: _InputRef) -> list:
        """A ``teachers.`` input: every teacher's value, in order."""
        return [ref.fetch(self.teacher_recorders[t])
                for t in self.teacher_recorders]

    # ------------------------------------------------------------------
    # forward
    @staticmethod
    def _forward_to(model, inputs, data_samples, sources) -> None:
        """Run ``model`` only as far as the recorded modules need."""
        roots = {s.split('.')[0] for s in sources}
        if not roots:
            return
        if roots <= {'backbone'} and hasattr(model, 'backbone'):
            model.backbone(inputs)
        elif roots <= {'backbone', 'neck'} and hasattr(model, 'extract_feat'):
            model.extract_feat(inputs)
        elif roots <= {'backbone', 'neck', 'rpn_head', 'bbox_head'} and \
                hasattr(model, 'extract_feat') and \
                all(hasattr(model, r) for r in roots):
            # detectors: features, then the dense heads called as modules
            # (mmdet's 'tensor' mode calls head.forward, bypassing hooks)
            feats = model.extract_feat(inputs)
            for head in ('rpn_head', 'bbox_head'):
                if head in roots:
                    getattr(model, head)(feats)
        else:
            model(inputs, data_samples, mode='tensor')

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        return self.student(inputs, data_samples, mode=mode)

    def _active_terms(self, it: int, epoch: int) -> Dict[str, float]:
        """term name -> schedule weight, for terms whose weight is > 0."""
        factors = {t.name: self._schedule_factor(t.schedule, it, epoch)
                   for t in self.terms}
        return {n: f for n, f in factors.items() if f > 0}

    def loss(self, inputs, data_samples) -> Dict[str, Tensor]:
        it, epoch = self._progress()
        active = self._active_terms(it, epoch)
        s_factor = self.student_loss_weight * self._schedule_factor(
            self.student_schedule, it, epoch)
        needs_teacher = bool(self.head_distillers) or bool(self.adv) or any(
            t.teacher_args or t.all_teachers_args for t in self.terms
            if t.name in active)
        self._cached_idx = None
        if self.teacher_cache and needs_teacher:
            self._batch_idx = self._sample_indices(data_samples)
            if self._cache_covers(active, self._batch_idx):
                needs_teacher = False
                self._cached_idx = self._batch_idx
        if needs_teacher:
            with torch.no_grad():
                for name, model in self.teacher_models.items():
                    manager = self.teacher_recorders[name]
                    with manager.record():
                        self._forward_to(model, inputs, data_samples,
                                         manager.sources)
        self._batch = _Batch(inputs, data_samples)
        with self.student_recorders.record():
            if s_factor > 0 or self.head_distillers or self.adv:
                # through forward, so a DDP-wrapped student syncs gradients
                student_losses = self.student(inputs, data_samples,
                                              mode='loss')
            else:
                # the task is off (e.g. FSP stage 1): features only
                student_losses = {}
                if _unwrap(self.student) is not self.student:
                    self.student(inputs, data_samples, mode='tensor')
                else:
                    self._forward_to(self.student, inputs, data_samples,
                                     self.student_recorders.sources)
        for hd in self.head_distillers.values():
            hd.scale_hard_losses(student_losses)
        if s_factor != 1:  # a loss may be a list (mmdet: one per level)
            student_losses = {
                k: (v if 'loss' not in k else [x * s_factor for x in v]
                    if isinstance(v, (list, tuple)) else v * s_factor)
                for k, v in student_losses.items()}
        losses = OrderedDict(
            (f'student.{k}', v) for k, v in student_losses.items())
        losses.update(self.distill_loss(active))
        losses.update(self.head_distill_loss(data_samples))
        if self.adv:
            losses.update(self.adversarial_student_loss(inputs))
        return losses

    # ------------------------------------------------------------------
    # holistic (adversarial) distillation
    def _adversarial_cfg(self, discriminator, adversarial):
        if discriminator is None:
            if adversarial:
                raise ConfigError('adversarial=... is set but there is no '
                                  'discriminator=dict(type=...)')
            return None
        adv = dict(adversarial or {})
        allowed = {'student', 'teacher', 'loss_weight', 'gp_weight',
                   'd_steps', 'condition_on_image'}
        unknown = set(adv) - allowed
        if unknown:
            raise ConfigError(f'adversarial: unknown keys {sorted(unknown)}; '
                              f'expected some of {sorted(allowed)}')
        cfg = dict(student=adv.get('student', 'student.logits'),
                   teacher=adv.get('teacher', 'teacher.logits'),
                   loss_weight=float(adv.get('loss_weight', 0.1)),
                   gp_weight=float(adv.get('gp_weight', 10.0)),
                   d_steps=int(adv.get('d_steps', 1)),
                   condition_on_image=bool(adv.get('condition_on_image',
                                                   True)))
        if cfg['d_steps'] < 1:
            raise ConfigError(f'adversarial.d_steps={cfg["d_steps"]}; '
                              'expected >= 1 critic update per student '
                              'update')
        for side in ('student', 'teacher'):
            ref = _InputRef(cfg[side], f'adversarial.{side}')
            manager = self.student_recorders if side == 'student' else \
                next(iter(self.teacher_recorders.values()))
            if ref.side != side or ref.recorder not in manager:
                raise ConfigError(
                    f'adversarial.{side}: {ref.text!r} must name a {side} '
                    f'recorder; they are {sorted(manager.recorders)}')
            cfg[side] = ref
        return cfg

    def _build_discriminator(self, cfg: dict) -> None:
        cfg = dict(cfg)
        cfg.pop('_scope_', None)
        in_channels = self._adv_shape[1] + \
            (3 if self.adv['condition_on_image'] else 0)
        cfg.setdefault('in_channels', in_channels)
        if cfg['in_channels'] != in_channels:
            raise ConfigError(
                f'discriminator.in_channels={cfg["in_channels"]}, but the '
                f'score maps have {self._adv_shape[1]} classes'
                f'{" + 3 image channels" if self.adv["condition_on_image"] else ""}'
                f' = {in_channels}')
        self.discriminator = MODELS.build(cfg)

    def _critic_input(self, logits: Tensor, images: Tensor) -> Tensor:
        probs = logits.softmax(dim=1)
        if not self.adv['condition_on_image']:
            return probs
        images = torch.nn.functional.interpolate(
            images.to(probs.dtype), size=probs.shape[2:], mode='bilinear',
            align_corners=False)
        return torch.cat([probs, images], dim=1)

    def _teacher_scores(self) -> Tensor:
        ref = self.adv['teacher']
        names = self._teachers_of(ref)
        scores = [ref.fetch(self.teacher_recorders[t]) for t in names]
        if len(scores) == 1:
            return scores[0]
        # several teachers: the weighted mean of their probabilities, as logits
        probs = sum(self.teacher_weights[t] * s.softmax(dim=1)
                    for t, s in zip(names, scores))
        return probs.clamp_min(1e-8).log()

    def adversarial_student_loss(self, inputs: Tensor) -> Dict[str, Tensor]:
        """The student's holistic term ``-w * D(I, Q_s)`` with the critic
        frozen (its parameters get no gradient from it)."""
        s_logits = self.adv['student'].fetch(self.student_recorders)
        critic = _unwrap(self.discriminator)
        flags = [p.requires_grad for p in critic.parameters()]
        for p in critic.parameters():
            p.requires_grad_(False)
        try:
            score = critic(self._critic_input(s_logits, inputs))
        finally:
            for p, f in zip(critic.parameters(), flags):
                p.requires_grad_(f)
        self._adv_cache = (inputs.detach(), s_logits.detach(),
                           self._teacher_scores().detach())
        loss = -self.adv['loss_weight'] * score.mean()
        return {'distill.loss_holistic': self._checked(
            loss, 'loss_holistic', self._progress()[0])}

    def discriminator_loss(self) -> Dict[str, Tensor]:
        """WGAN-GP critic loss on the last batch: ``D(fake) - D(real) +
        gp_weight * (||grad D(x_hat)|| - 1)^2`` with ``x_hat`` random
        interpolates of teacher (real) and student (fake) inputs."""
        images, s_logits, t_logits = self._adv_cache
        real = self._critic_input(t_logits, images)
        fake = self._critic_input(s_logits, images)
        d_real = self.discriminator(real)
        d_fake = self.discriminator(fake)
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device,
                         dtype=real.dtype)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(self.discriminator(x_hat).sum(), x_hat,
                                    create_graph=True)
        penalty = (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()
        return OrderedDict([
            ('disc.loss_wgan', d_fake.mean() - d_real.mean()),
            ('disc.loss_gp', self.adv['gp_weight'] * penalty),
        ])

    def train_step(self, data, optim_wrapper):
        """One student update; with a discriminator, then ``d_steps``
        critic updates, each with its own optimizer."""
        if not self.adv:
            return super().train_step(data, optim_wrapper)
        keys = set(getattr(optim_wrapper, 'optim_wrappers', {}) or {})
        if keys != {'student', 'discriminator'}:
            raise ConfigError(
                'a Distiller with a discriminator needs optim_wrapper='
                'dict(constructor="DistillerOptimWrapperConstructor", '
                'student=dict(...), discriminator=dict(...)); got '
                f'{type(optim_wrapper).__name__} with {sorted(keys)}')
        s_wrapper = optim_wrapper['student']
        d_wrapper = optim_wrapper['discriminator']
        with s_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        parsed, log_vars = self.parse_losses(losses)
        s_wrapper.update_params(parsed)
        for _ in range(self.adv['d_steps']):
            with d_wrapper.optim_context(self.discriminator):
                d_losses = self.discriminator_loss()
            d_loss, d_log = self.parse_losses(d_losses)
            d_wrapper.update_params(d_loss)
        d_log['disc.loss'] = d_log.pop('loss')
        log_vars.update(d_log)
        return log_vars

    def head_distill_loss(self, data_samples) -> Dict[str, Tensor]:
        """The head distillers' terms, per teacher (weighted as
        ``teacher_weights`` says), as ``distill.<name>.<loss>``."""
        out = OrderedDict()
        if not self.head_distillers:
            return out
        it, epoch = self._progress()
        teachers = list(self.teacher_models.items())
        for hd_name, hd in self.head_distillers.items():
            factor = self._schedule_factor(
                self.head_schedules.get(hd_name, {}), it, epoch)
            prefix = f'{hd_name}/'
            student = {k[len(prefix):]: r.get()
                       for k, r in self.student_recorders.recorders.items()
                       if k.startswith(prefix)}
            totals = OrderedDict()
            for t_name, model in teachers:
                manager = self.teacher_recorders[t_name]
                teacher = {k[len(prefix):]: r.get()
                           for k, r in manager.recorders.items()
                           if k.startswith(prefix)}
                with manager.resume():
                    values = hd.loss(student, teacher, model, data_samples)
                weight = self.teacher_weights[t_name] \
                    if len(teachers) > 1 else 1.
                for key, value in values.items():
                    totals[key] = totals.get(key, 0.) + weight * value
            for key, value in totals.items():
                name = f'{hd_name}.{key}'
                out[f'distill.{name}'] = self._checked(value * factor, name,
                                                       it)
        return out

    @staticmethod
    def _progress():
        """The Runner's current (iteration, epoch), 0 outside a Runner."""
        hub = MessageHub.get_current_instance()
        return (hub.get_info('iter', 0) or 0), (hub.get_info('epoch', 0) or 0)

    @staticmethod
    def _checked(total: Tensor, name: str, it: int) -> Tensor:
        if not bool(torch.isfinite(total).all()):
            raise FloatingPointError(
                f'distillation loss {name!r} became '
                f'{total.detach().flatten()[0].item()} at iteration {it} '
                '(check its loss_weight, temperature and inputs)')
        return total

    def distill_loss(self, active: Optional[Dict[str, float]] = None
                     ) -> Dict[str, Tensor]:
        """The distillation terms from what the recorders captured;
        ``active``: term -> schedule weight (``loss`` computes it once)."""
        it, epoch = self._progress()
        if active is None:
            active = self._active_terms(it, epoch)
        out = OrderedDict()
        for term in self.terms:
            factor = active.get(term.name, 0.)
            if not factor:  # off by its schedule: not computed
                out[f'distill.{term.name}'] = self._batch.inputs.new_zeros(())
                continue
            total = 0.
            teachers = self._teachers_involved(term)
            for t in teachers:
                kwargs = self._teacher_inputs(term, t)
                target = kwargs[term.teacher_args[0]] \
                    if term.teacher_args and term.teacher_args[0] in kwargs \
                    else None
                for arg in term.student_args:
                    value = term.inputs[arg].fetch(self.student_recorders)
                    if term.name in self.adapters:
                        adapters = _unwrap(self.adapters)
                        value = adapters[term.name][t](value, target)
                    kwargs[arg] = value
                for arg in term.data_args:
                    kwargs[arg] = term.inputs[arg].fetch(self._batch)
                for arg in term.all_teachers_args:
                    kwargs[arg] = self._all_teachers(term.inputs[arg])
                value = term.loss(**kwargs)
                weight = self.teacher_weights[t] if len(teachers) > 1 else 1.
                total = total + weight * value
            out[f'distill.{term.name}'] = self._checked(total * factor,
                                                        term.name, it)
        return out

    # ------------------------------------------------------------------
    # teacher cache
    @staticmethod
    def _sample_indices(data_samples) -> List[int]:
        idx = [ds.metainfo.get('sample_idx') for ds in data_samples or []]
        if not idx or any(i is None for i in idx):
            raise KeyError('teacher_cache=True needs each data sample\'s '
                           '"sample_idx" (packed by mmdet/mmseg/mmpretrain '
                           'Pack*Inputs by default); these have none')
        return [int(i) for i in idx]

    def _cache_covers(self, active, idx) -> bool:
        for term in self.terms:
            if term.name not in active or not term.teacher_args:
                continue
            per_teacher = self._teacher_cache.get(term.name, {})
            for t in self._teachers_involved(term):
                kept = per_teacher.get(t, {})
                if any(i not in kept for i in idx):
                    return False
        return True

    def _teacher_inputs(self, term: _DistillTerm, t: str) -> dict:
        """The teacher-side arguments of ``term`` for teacher ``t``: from
        the recorders (and kept when caching) or from the cache."""
        if not term.teacher_args:
            return {}
        if self._cached_idx is not None:
            kept = self._teacher_cache[term.name][t]
            rows = [kept[i] for i in self._cached_idx]
            return {k: torch.stack([r[k] for r in rows]) for k in rows[0]}
        kwargs = {arg: term.inputs[arg].fetch(self.teacher_recorders[t])
                  for arg in term.teacher_args}
        if not self.teacher_cache:
            return kwargs
        summarize = getattr(term.loss, 'teacher_summary', None)
        if summarize is not None:
            kwargs = {'teacher_summary': summarize(**kwargs)}
        kept = self._teacher_cache.setdefault(term.name, {}).setdefault(t, {})
        for j, i in enumerate(self._batch_idx):
            kept[i] = {k: v[j].detach() for k, v in kwargs.items()}
        return kwargs

    def _teachers_involved(self, term: _DistillTerm) -> List[str]:
        """The teachers a term is computed for: those its inputs name, or
        every teacher when an input says just ``teacher.``."""
        named = {term.inputs[a].teacher for a in term.teacher_args}
        if not named:  # a student-only term: computed once
            return list(self.teacher_recorders)[:1]
        if None in named:
            return list(self.teacher_recorders)
        return sorted(named)

    _SCHEDULE_KEYS = ('warmup_iters', 'start_iter', 'start_epoch',
                      'stop_iter', 'stop_epoch')

    @classmethod
    def _check_schedule(cls, owner: str, schedule) -> None:
        if not isinstance(schedule, dict):
            raise ConfigError(f'{owner}={schedule!r}; expected a dict with '
                              f'some of {list(cls._SCHEDULE_KEYS)}')
        unknown = set(schedule) - set(cls._SCHEDULE_KEYS)
        if unknown:
            raise ConfigError(f'{owner}: unknown keys {sorted(unknown)}; '
                              f'expected some of {list(cls._SCHEDULE_KEYS)}')
        for key, value in schedule.items():
            if value is not None and (not isinstance(value, int) or
                                      value < 0):
                raise ConfigError(f'{owner}.{key}={value!r}; expected an '
                                  'integer >= 0')

    @staticmethod
    def _schedule_factor(schedule: dict, it: int, epoch: int) -> float:
        if not schedule:
            return 1.0
        start = schedule.get('start_iter', 0)
        if it < start or epoch < (schedule.get('start_epoch') or 0):
            return 0.0
        stop_iter = schedule.get('stop_iter')
        stop_epoch = schedule.get('stop_epoch')
        if (stop_iter is not None and it >= stop_iter) or \
                (stop_epoch is not None and epoch >= stop_epoch):
            return 0.0
        warmup = schedule.get('warmup_iters', 0)
        if warmup:
            return min(1.0, (it - start + 1) / warmup)
        return 1.0

    # ------------------------------------------------------------------
    # modes, devices, checkpoints
    def train(self, mode: bool = True):
        super().train(mode)
        for model in self.teacher_models.values():
            model.eval()
        return self

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        if not self.teacher_in_checkpoint:
            for model in self._hidden_teachers.values():
                model._apply(fn, *args, **kwargs)
        return self

    def _strip_ddp_wrappers(self, module, state_dict, prefix, *args):
        """Checkpoints name ``student.*``, never ``student.module.*``, also
        when the children are DDP-wrapped one by one
        (``MMSeparateDistributedDataParallel``)."""
        for name, child in self._modules.items():
            if _unwrap(child) is child:
                continue
            old, new = f'{prefix}{name}.module.', f'{prefix}{name}.'
            for key in [k for k in state_dict if k.startswith(old)]:
                state_dict[new + key[len(old):]] = state_dict.pop(key)
        return state_dict

    def _accept_plain_student(self, state_dict, prefix, *args) -> None:
        """``load_from`` a plain student checkpoint: prefix its keys with
        ``student.`` (reported), so it initialises the distiller's
        student."""
        own = [k for k in state_dict if k.startswith(prefix)]
        if any(k[len(prefix):].startswith('student.') for k in own):
            return
        student_keys = set(_unwrap(self.student).state_dict())
        plain = [k for k in own if k[len(prefix):] in student_keys]
        if not plain:
            return
        for k in plain:
            state_dict[f'{prefix}student.{k[len(prefix):]}'] = \
                state_dict.pop(k)
        print_log(
            f'kdtools: the checkpoint is a plain student checkpoint; '
            f'{len(plain)} of the student\'s {len(student_keys)} tensors '
            'loaded as "student.*" (adapters keep their initialisation)',
            logger='current')

    def init_weights(self):
        """Initialise the student as its config says; teachers keep their
        checkpoint weights and adapters initialise when built."""
        _unwrap(self.student).init_weights()
