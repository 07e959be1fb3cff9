"""The Distiller: the model the Runner sees (student + frozen teachers + what
connects them). It orchestrates; each concern lives in its own module:
``teacher`` (building and loading teachers), ``input_wiring`` (``inputs``
references, terms, signature checks), ``adapter_builder`` (adapters from
recorded shapes), ``loss_schedule``, ``teacher_cache``, ``head_wiring``,
``adversarial`` (the holistic term and its critic step), ``state_dict``
(checkpoints and the teachers' place in the module tree) and
``partial_forward``."""
from collections import OrderedDict
from typing import Dict, Optional, Sequence

import torch
from mmengine.model import BaseModel
from torch import Tensor, nn

from kdtools.registry import MODELS
from kdtools.utils.errors import ConfigError
from ..recorders import RecorderManager
from .adapter_builder import build_adapters, dummy_forward, reset_recorders
from .adversarial import AdversarialTerm, critic_steps, split_optim_wrapper
from .head_wiring import (build_head_distillers, head_distill_losses,
                          head_recorders)
from .input_wiring import (Batch, all_teachers, build_terms, checked,
                           switched_on, teachers_involved)
from .loss_schedule import (SCHEDULE_KEYS, active_terms, check_schedule,
                            progress, scale_losses, schedule_factor,
                            split_schedules)
from .partial_forward import forward_to
from .state_dict import TeacherStateMixin, unwrap
from .teacher import (build_model, build_teacher, named_teachers,
                      normalised_weights, student_cfg_from)
from .teacher_cache import TeacherCache, check_cacheable
from .teacher_inference import InplaceProbe, configure_inference
from .teacher_preprocessing import DistillerDataPreprocessor


@MODELS.register_module()
class Distiller(TeacherStateMixin, BaseModel):
    """A student trained with frozen teachers: the model the Runner sees.

    Data flow (one training step): the student's data preprocessor (each
    teacher's own on the same raw batch where it differs) -> every teacher
    forward under ``torch.no_grad()`` and only as far as its
    recorders need (backbone, backbone+neck, or the whole ``tensor`` mode)
    -> the student's ``loss`` (its recorders capture features) -> adapters
    -> distillation losses -> one loss dict: ``student.<task loss>`` and
    ``distill.<loss name>``. ``predict`` and ``tensor`` are the student's
    alone, so MMLab evaluators and visualisers work unchanged.

    Teachers are frozen (no gradients, always eval mode so BN statistics
    never move; in-place activations and layout: :mod:`.teacher_inference`),
    loaded strictly from their checkpoints, and kept out of the distiller's
    state dict (so out of its checkpoints) unless
    ``teacher_in_checkpoint=True``: on resume they are rebuilt from their own
    checkpoints.

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
        teacher_channels_last ('auto' | bool): teachers in channels_last
            (``'auto'``: where measured >= 5% faster at build time, or on
            for convolutional teachers under deterministic algorithms; a
            teacher's own ``channels_last`` key wins). Defaults to 'auto'.
        teacher_fuse_conv_bn (bool): fold each teacher's eval-mode batch
            norms into the convolutions feeding them (where no recorder
            reads either; checked against the plain forward at build time;
            a teacher's own ``fuse_conv_bn`` key wins). Defaults to True.
            Both change teacher outputs at the 1e-6 level only; set both
            False to repeat a run made before they existed bit for bit.
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
            ``condition_on_image`` (True), ``align`` ('student' or
            'teacher': whose size the score maps take when they differ).
        data_preprocessor (dict, optional): the student's preprocessor
            where its config has none (mmengine's Runner passes a config's
            top-level ``data_preprocessor`` here); the student's own always
            wins, and is the Distiller's.
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
                 teacher_channels_last='auto',
                 teacher_fuse_conv_bn: bool = True,
                 discriminator: Optional[dict] = None,
                 adversarial: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        distill_losses = switched_on(distill_losses)
        head_distillers = switched_on(head_distillers)
        teachers = named_teachers(teachers, teacher)
        # the student's own preprocessor wins (see ``data_preprocessor``)
        built_student = build_model(
            student_cfg_from(student, data_preprocessor), 'student')
        super().__init__(data_preprocessor=built_student.data_preprocessor,
                         init_cfg=init_cfg)
        self.student = built_student
        self.head_distillers = build_head_distillers(head_distillers or {})
        hd_student_recs, hd_teacher_recs = head_recorders(
            self.head_distillers)

        # teachers: frozen, hidden from the module tree unless asked
        built = OrderedDict()
        self.teacher_recorders: Dict[str, RecorderManager] = {}
        for name, tcfg in teachers.items():
            model, recs, rec_owner = build_teacher(f'teachers.{name}', tcfg,
                                                   teacher_recorders)
            built[name] = model
            recs.update(hd_teacher_recs)
            self.teacher_recorders[name] = RecorderManager(recs, model,
                                                           rec_owner)
            for hd_name, hd in self.head_distillers.items():
                hd.check(self.student, model, name,
                         f'head_distillers.{hd_name}')
        self._hold_teachers(built, teacher_in_checkpoint)
        # + each teacher's own preprocessing where it differs
        self.data_preprocessor = DistillerDataPreprocessor(
            self.data_preprocessor,
            {n: m.data_preprocessor for n, m in built.items()
             if isinstance(getattr(m, 'data_preprocessor', None), nn.Module)})
        student_recorders = dict(student_recorders or {})
        student_recorders.update(hd_student_recs)
        self.student_recorders = RecorderManager(student_recorders,
                                                 self.student,
                                                 'student_recorders')
        self.teacher_weights = normalised_weights(teacher_weights,
                                                  list(built))

        self.student_schedule, self.head_schedules, term_schedules = \
            split_schedules(loss_schedules, list(self.head_distillers))
        if student_loss_weight < 0:
            raise ConfigError(f'student_loss_weight={student_loss_weight}; '
                              'expected >= 0')
        self.student_loss_weight = float(student_loss_weight)
        self.terms = build_terms(distill_losses or {}, term_schedules,
                                 self.student_recorders,
                                 self.teacher_recorders,
                                 list(self.head_distillers))
        self._cache = TeacherCache(bool(teacher_cache), self.terms,
                                   list(self.teacher_recorders))
        if self.teacher_cache:
            check_cacheable(self.terms, bool(self.head_distillers),
                            discriminator is not None)
        self.distill_losses = nn.ModuleDict(
            {t.name: t.loss for t in self.terms})
        self.adapters = nn.ModuleDict()
        self.adv = AdversarialTerm.from_cfg(discriminator, adversarial,
                                            self.student_recorders,
                                            self.teacher_recorders)
        probe = self._build_adapters(tuple(input_shape)) \
            if self.terms or self.adv else None
        if self.adv:
            self.discriminator = self.adv.build_discriminator(discriminator)
        self.inference_setting = configure_inference(
            self, probe, teacher_channels_last, teachers, input_shape,
            teacher_fuse_conv_bn)
        self._register_checkpoint_hooks()

    @property
    def teacher_cache(self) -> bool:
        """Whether what the terms read from the teachers is kept per
        sample (``teacher_cache``)."""
        return self._cache.enabled

    @teacher_cache.setter
    def teacher_cache(self, value: bool) -> None:
        self._cache.enabled = value

    @property
    def _teacher_cache(self) -> Dict[str, Dict[str, dict]]:
        """term -> teacher -> sample index -> what the term read."""
        return self._cache.kept

    def _build_adapters(self, input_shape) -> InplaceProbe:
        """Record a dummy forward (probing which in-place modules read
        recorded tensors); build each term's adapters with channels from the
        recorded shapes; check the shapes the other terms and the
        adversarial term compare."""
        refs = [r for t in self.terms for r in t.inputs.values()]
        if self.adv:
            refs += self.adv.refs
        with InplaceProbe.of(self) as probe:
            dummy_forward(input_shape, refs, self.student,
                          self.student_recorders, self.teacher_models,
                          self.teacher_recorders)
        for name, per_teacher in build_adapters(
                self.terms, self.student_recorders,
                self.teacher_recorders).items():
            self.adapters[name] = per_teacher
        if self.adv:
            self.adv.check_shapes(self.student_recorders,
                                  self.teacher_recorders)
        reset_recorders([self.student_recorders,
                         *self.teacher_recorders.values()])
        return probe

    # ------------------------------------------------------------------
    # one training step
    def forward(self, inputs, data_samples=None, mode: str = 'tensor',
                teacher_inputs=None):
        if mode == 'loss':
            return self.loss(inputs, data_samples, teacher_inputs)
        return self.student(inputs, data_samples, mode=mode)

    def loss(self, inputs, data_samples,
             teacher_inputs=None) -> Dict[str, Tensor]:
        """``teacher_inputs`` (:class:`TeacherInputs`): the teachers' own
        preprocessing where it differs; without it they get ``inputs``."""
        it, epoch = progress()
        active = active_terms(self.terms, it, epoch)
        s_factor = self.student_loss_weight * schedule_factor(
            self.student_schedule, it, epoch)
        needs_teacher = bool(self.head_distillers) or bool(self.adv) or any(
            t.teacher_args or t.all_teachers_args for t in self.terms
            if t.name in active)
        if self._cache.teachers_needed(needs_teacher, data_samples, active):
            self._record_teachers(inputs, data_samples, teacher_inputs)
        self._batch = Batch(inputs, data_samples)
        losses = OrderedDict(
            (f'student.{k}', v) for k, v in
            self._student_losses(inputs, data_samples, s_factor).items())
        losses.update(self.distill_loss(active))
        losses.update(self.head_distill_loss(data_samples))
        if self.adv:
            losses.update(self.adversarial_student_loss(inputs))
        return losses

    def train_step(self, data, optim_wrapper):
        """One student update; with a discriminator, then ``d_steps``
        critic updates, each with its own optimizer."""
        if not self.adv:
            return super().train_step(data, optim_wrapper)
        s_wrapper, d_wrapper = split_optim_wrapper(optim_wrapper)
        with s_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        parsed, log_vars = self.parse_losses(losses)
        s_wrapper.update_params(parsed)
        log_vars.update(critic_steps(self, d_wrapper, self.adv.d_steps))
        return log_vars

    # ------------------------------------------------------------------
    # the parts of a step
    def _record_teachers(self, inputs, data_samples,
                         teacher_inputs=None) -> None:
        """Every teacher forward, without gradients, as far as its
        recorders need, each on its own preprocessing of the batch."""
        with torch.no_grad():
            for name, model in self.teacher_models.items():
                manager = self.teacher_recorders[name]
                t_inputs = inputs if teacher_inputs is None \
                    else teacher_inputs.get(name)
                with manager.record():
                    forward_to(model, t_inputs, data_samples,
                               manager.sources)

    def _student_losses(self, inputs, data_samples, s_factor: float) -> dict:
        """The student forward (its recorders capture features) and its
        task losses, scaled by ``s_factor``; while that is 0 (e.g. FSP stage
        1) only as far as its recorders need, without task losses."""
        with self.student_recorders.record():
            if s_factor > 0 or self.head_distillers or self.adv:
                # through forward, so a DDP-wrapped student syncs gradients
                student_losses = self.student(inputs, data_samples,
                                              mode='loss')
            else:
                student_losses = {}
                if unwrap(self.student) is not self.student:
                    self.student(inputs, data_samples, mode='tensor')
                else:
                    forward_to(self.student, inputs, data_samples,
                               self.student_recorders.sources)
        for hd in self.head_distillers.values():
            hd.scale_hard_losses(student_losses)
        return scale_losses(student_losses, s_factor)

    def distill_loss(self, active: Optional[Dict[str, float]] = None
                     ) -> Dict[str, Tensor]:
        """The distillation terms from what the recorders captured;
        ``active``: term -> schedule weight (``loss`` computes it once)."""
        it, epoch = progress()
        if active is None:
            active = active_terms(self.terms, it, epoch)
        out = OrderedDict()
        for term in self.terms:
            factor = active.get(term.name, 0.)
            if not factor:  # off by its schedule: not computed
                out[f'distill.{term.name}'] = self._batch.inputs.new_zeros(())
                continue
            total = 0.
            teachers = teachers_involved(term, self.teacher_recorders)
            for t in teachers:
                kwargs = self._cache.teacher_inputs(
                    term, t, self.teacher_recorders[t])
                target = kwargs[term.teacher_args[0]] \
                    if term.teacher_args and term.teacher_args[0] in kwargs \
                    else None
                for arg in term.student_args:
                    value = term.inputs[arg].fetch(self.student_recorders)
                    if term.name in self.adapters:
                        adapters = unwrap(self.adapters)
                        value = adapters[term.name][t](value, target)
                    kwargs[arg] = value
                for arg in term.data_args:
                    kwargs[arg] = term.inputs[arg].fetch(self._batch)
                for arg in term.all_teachers_args:
                    kwargs[arg] = all_teachers(term.inputs[arg],
                                               self.teacher_recorders)
                value = term.loss(**kwargs)
                weight = self.teacher_weights[t] if len(teachers) > 1 else 1.
                total = total + weight * value
            out[f'distill.{term.name}'] = checked(total * factor, term.name,
                                                  it)
        return out

    def head_distill_loss(self, data_samples) -> Dict[str, Tensor]:
        """The head distillers' terms, per teacher (weighted as
        ``teacher_weights`` says), as ``distill.<name>.<loss>``."""
        return head_distill_losses(
            self.head_distillers, self.head_schedules, self.student_recorders,
            self.teacher_models, self.teacher_recorders, self.teacher_weights,
            data_samples)

    def adversarial_student_loss(self, inputs: Tensor) -> Dict[str, Tensor]:
        """The student's holistic term ``-w * D(I, Q_s)`` with the critic
        frozen (its parameters get no gradient from it)."""
        return self.adv.student_loss(
            self.discriminator, inputs, self.student_recorders,
            self.teacher_recorders, self.teacher_weights, progress()[0])

    def discriminator_loss(self) -> Dict[str, Tensor]:
        """WGAN-GP critic loss on the last batch (see
        :meth:`AdversarialTerm.critic_loss`)."""
        return self.adv.critic_loss(self.discriminator)

    def init_weights(self):
        """Initialise the student as its config says; teachers keep their
        checkpoint weights and adapters initialise when built."""
        unwrap(self.student).init_weights()

    # ------------------------------------------------------------------
    # names kept for callers of the former single-module Distiller
    _SCHEDULE_KEYS = SCHEDULE_KEYS
    _check_schedule = staticmethod(check_schedule)
    _schedule_factor = staticmethod(schedule_factor)
    _progress = staticmethod(progress)
    _checked = staticmethod(checked)
    _forward_to = staticmethod(forward_to)
