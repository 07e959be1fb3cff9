"""The data-free distiller: SSD-KD on Fast-Datafree's meta-generator, with
the Fast-Datafree and DeepInversion baselines as configs of the same
parts."""
import math
import time
from typing import Optional

import torch
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict
from torch import nn

from kdtools.registry import MODELS
from kdtools.utils.errors import ConfigError
from ..distillers.state_dict import TeacherStateMixin, unwrap
from ..distillers.teacher import build_teacher, student_cfg_from
from .bn_statistics_prior import BNStatisticsPrior
from .synthesis import (eval_mode, logits_of, normalizer, normalizes,
                        per_image_kl, per_pixel, pixel_rows,
                        synthesis_round)

SYNTHESIS_DEFAULTS = dict(
    batch_size=256, rounds=None, inner_steps=2, lr_g=5e-3, lr_z=0.015,
    meta=True, tv_weight=0.0, l2_weight=0.0,
    bn_weight=10.0, bn_momentum=0.9, warmup_ratio=0.2, span=0.8,
    task=dict(type='ModulatedTaskLoss', gamma=2.0, kappa=1.0,
              loss_weight=0.5), phi_scope='batch',
    adv=dict(type='AdversarialDisagreementLoss', loss_weight=1.33),
    augment=dict(type='SynthesisAugment', padding=4))
DISTILL_DEFAULTS = dict(
    batch_size=256, loss=dict(type='WeightedKDLoss', temperature=20.0),
    augment=dict(type='SynthesisAugment', padding=4), beta=(0.4, 1.0),
    priority='w_kl')
# segmentation (DATAFREE.md 7.3): inverse-frequency phi over pixels, T = 1,
# RandomCrop(pad 8) + flip in synthesis, RandomResizedCrop(0.5-1) + flip
# on buffer images
SEG_DEFAULTS = dict(
    synthesis=dict(task=dict(type='ModulatedTaskLoss', gamma=2.0,
                             kappa=-1.0, loss_weight=0.5),
                   augment=dict(type='SynthesisAugment', padding=8)),
    distill=dict(loss=dict(type='WeightedKDLoss', temperature=1.0),
                 augment=dict(type='SynthesisAugment', padding=0,
                              scale=(0.5, 1.0))))


def _merged(owner: str, given: Optional[dict], defaults: dict) -> dict:
    given = dict(given or {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ConfigError(f'{owner}: unknown keys {unknown}; expected some '
                          f'of {sorted(defaults)}')
    return {**defaults, **given}


@MODELS.register_module()
class DataFreeDistiller(TeacherStateMixin, BaseModel):
    """Data-free distillation: a student learns from a frozen teacher on
    images inverted from the teacher, never on real training data.

    SSD-KD (Liu et al., "Small Scale Data-Free Knowledge Distillation",
    CVPR 2024) on Fast-Datafree's meta-generator (Fang et al., "Up to 100x
    Faster Data-free Knowledge Distillation", AAAI 2022) with
    DeepInversion's BN prior (Yin et al., CVPR 2020); the equations and
    every [C] choice are in ``DATAFREE.md`` and
    ``docs/en/methods/datafree.md``.

    One ``train_step`` (one iteration of an ``IterBasedTrainLoop`` over
    :class:`SyntheticDataset`, whose batches are ignored) is:

    - while ``rounds_done < R_w`` (``R`` = ``synthesis.rounds``, or
      ``ceil(budget / B)`` when unset,
      ``R_w = ceil(warmup_ratio R)``): one synthesis round without the
      adversarial term, no distillation;
    - after: the next synthesis round (with the adversarial term) when its
      distillation step is reached (rounds ``R_w..R-1`` evenly over the
      first ``span`` of the ``max_iters - R_w`` distillation steps), then one
      distillation step: ``b`` buffer samples drawn with P, augmented,
      ``L = mean_j w_j KL_T(t_j, s_j)``, then ``delta_j = w_j KL_1(t_j, s_j)``
      (``priority='w_kl'``; ``'kl'``: without ``w``) for the sampled items.
      beta rises linearly from ``beta[0]`` to ``beta[1]`` over them.

    ``task='seg'`` (DATAFREE.md 7): mmseg segmentors, whose ``tensor``
    score maps are resized to the image size; the task target is the
    teacher's own per-pixel argmax (no random classes), the task,
    adversarial and KD terms are the classification ones applied per pixel
    (means over images and pixels; ``phi`` counts pixels, with
    ``kappa=-1``: inverse frequency), and the priority of a buffer image is
    ``delta = w * mean_u KL_1(t_u, s_u)``; ``SEG_DEFAULTS`` holds the
    segmentation defaults (T = 1, kappa = -1, the 7.3 augmentations).

    Synthesis stops once ``budget`` images were kept (:meth:`round_quota`:
    with ``synthesis.rounds`` set, the budget spread over the rounds; the
    rest of each round's images are not stored). Images ``(B, C, H, W)`` in [0, 1] reach each
    model normalised by its own data preprocessor.

    Args:
        student (dict): the student model config (``{{_base_.model}}``).
        teacher (dict): ``dict(config=..., checkpoint=...)`` as the
            Distiller's; frozen and kept out of checkpoints.
        generator (dict): ``FastGenerator`` or ``PixelGenerator`` config.
        buffer (dict): ``PriorityReplayBuffer`` or ``MemoryBank`` config
            without capacity and image shape (``buffer_size``, generator).
        budget (int): synthetic images kept in all, S_total.
        buffer_size (int, optional): N_max (default: the budget).
        synthesis (dict): ``batch_size`` B (images made per round),
            ``rounds`` R (None: ``ceil(budget / B)``), ``inner_steps`` k,
            ``tv_weight`` / ``l2_weight`` (DeepInversion's image priors,
            :func:`image_prior`), ``lr_g``,
            ``lr_z``, ``meta`` (FOMAML update of the generator with the
            ``generator`` optimizer), ``bn_weight`` (lambda_bn; 0 switches
            the BN prior off), ``bn_momentum``, ``warmup_ratio``, ``span``,
            ``task`` (``ModulatedTaskLoss``), ``phi_scope`` ('batch', or
            'buffer+batch': phi's class counts also cover the buffer's
            teacher-argmax labels, kept per item in
            ``buffer_class_counts (N_max, C)``), ``adv``
            (``AdversarialDisagreementLoss`` or None), ``augment``.
        distill (dict): ``batch_size`` b, ``loss`` (``WeightedKDLoss``),
            ``augment``, ``beta`` (start, end), ``priority``.
        task (str): 'cls' (logits ``(B, C)``) or 'seg' (score maps).
    """

    def __init__(self, student: dict, teacher: dict, generator: dict,
                 budget: int, buffer: Optional[dict] = None,
                 buffer_size: Optional[int] = None,
                 synthesis: Optional[dict] = None,
                 distill: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None, task: str = 'cls') -> None:
        if task not in ('cls', 'seg'):
            raise ConfigError(f"model.task={task!r}; expected 'cls' or "
                              "'seg'")
        built_student = MODELS.build(student_cfg_from(student))
        super().__init__(data_preprocessor=data_preprocessor or
                         built_student.data_preprocessor, init_cfg=init_cfg)
        self.student = built_student
        self.task = task
        model, _, _ = build_teacher('model.teacher', teacher, None)
        self._hold_teachers(dict(teacher=model), False)
        seg = SEG_DEFAULTS if task == 'seg' else dict(synthesis={},
                                                        distill={})
        self.syn = _merged('model.synthesis', synthesis,
                           {**SYNTHESIS_DEFAULTS, **seg['synthesis']})
        self.kd = _merged('model.distill', distill,
                          {**DISTILL_DEFAULTS, **seg['distill']})
        self.generator = MODELS.build(generator)
        self._check_budget(budget, buffer_size)
        buffer = dict(buffer or dict(type='PriorityReplayBuffer'))
        buffer.update(capacity=self.buffer_size,
                      image_shape=tuple(self.generator.image_shape))
        self.buffer = MODELS.build(buffer)
        self.bn_prior = BNStatisticsPrior(self.syn['bn_momentum'])
        if self.syn['bn_weight']:
            self.bn_prior.attach(model, 'model')
        self.task_loss = MODELS.build(self.syn['task'])
        self.adv_loss = MODELS.build(self.syn['adv']) \
            if self.syn['adv'] else None
        self.syn_augment = MODELS.build(self.syn['augment'])
        self.kd_loss = MODELS.build(self.kd['loss'])
        self.kd_augment = MODELS.build(self.kd['augment'])
        if self.kd['priority'] not in ('w_kl', 'kl'):
            raise ConfigError(f'model.distill.priority='
                              f'{self.kd["priority"]!r}; expected w_kl or kl')
        self.num_classes = self._check_classes()
        for name in ('rounds_done', 'kd_steps_done', 'synthesised'):
            self.register_buffer(name, torch.zeros((), dtype=torch.long))
        self.register_buffer('beta', torch.tensor(
            float(self.kd['beta'][0]), dtype=torch.float64))
        for name in ('synthesis_time', 'distill_time'):
            self.register_buffer(name, torch.zeros((), dtype=torch.float64))
        if self.syn['phi_scope'] not in ('batch', 'buffer+batch'):
            raise ConfigError(f'model.synthesis.phi_scope='
                              f'{self.syn["phi_scope"]!r}; expected '
                              "'batch' or 'buffer+batch'")
        if self.syn['phi_scope'] == 'buffer+batch':
            # each buffer item's teacher-argmax class histogram (one-hot
            # for classification, pixel counts for segmentation)
            self.register_buffer('buffer_class_counts', torch.zeros(
                self.buffer_size, self.num_classes))
        self._register_checkpoint_hooks()

    # ------------------------------------------------------------------
    # build-time checks
    def _check_budget(self, budget, buffer_size) -> None:
        b_syn = int(self.syn['batch_size'])
        if b_syn < 1 or int(self.syn['inner_steps']) < 1:
            raise ConfigError('model.synthesis: batch_size and inner_steps '
                              'must be >= 1')
        rounds = self.syn['rounds']
        if rounds is not None and (int(rounds) < 1 or
                                   int(rounds) * b_syn < int(budget)):
            raise ConfigError(
                f'model.synthesis.rounds={rounds} with batch_size={b_syn} '
                f'makes {int(rounds) * b_syn} images, fewer than '
                f'model.budget={budget}; expected rounds >= '
                f'{math.ceil(int(budget) / b_syn)} (or rounds=None: '
                'ceil(budget / batch_size))')
        if rounds is None and int(budget) < b_syn:
            raise ConfigError(
                f'model.budget={budget} is smaller than one synthesis batch '
                f'(model.synthesis.batch_size={b_syn}); expected budget >= '
                'batch_size')
        self.budget = int(budget)
        self.buffer_size = int(buffer_size or budget)
        if self.buffer_size > self.budget:
            raise ConfigError(
                f'model.buffer_size={buffer_size} is larger than the '
                f'budget ({budget} synthetic images): it could never fill; '
                'expected buffer_size <= budget')
        if self.syn['meta'] and not any(
                True for _ in self.generator.parameters()):
            raise ConfigError(
                f'model.synthesis.meta=True but the generator '
                f'({type(self.generator).__name__}) has no parameters to '
                'meta-learn; set model.synthesis.meta=False')

    @torch.no_grad()
    def _check_classes(self) -> int:
        """The teacher's output fits ``task`` and the class counts of
        teacher and student (a dummy forward on one generator-sized batch)
        agree."""
        x = torch.rand(2, *self.generator.image_shape)
        t = logits_of(self.teacher, self.norm_teacher(x))
        if (t.dim() == 4) != (self.task == 'seg'):
            raise ConfigError(
                f'model.task={self.task!r} but the teacher\'s tensor output '
                f'has shape {tuple(t.shape)}; expected (B, C) logits for '
                "'cls' and (B, C, H, W) score maps for 'seg'")
        with eval_mode(self.student):
            s = logits_of(self.student, self.norm_student(x))
        if t.shape[1] != s.shape[1]:
            raise ConfigError(
                f'model.student predicts {s.shape[1]} classes but the '
                f'teacher predicts {t.shape[1]}: data-free distillation '
                'needs the same classes (set the student head\'s '
                'num_classes)')
        return int(t.shape[1])

    def norm_student(self, x):
        """[0, 1] images -> student input: the distiller's data
        preprocessor's mean/std (what validation uses)."""
        return normalizer(self)(x)

    def norm_teacher(self, x):
        """[0, 1] images -> teacher input: the teacher's own data
        preprocessor's mean/std, or the student's when the teacher's does
        not normalise (an mmpretrain config whose ``data_preprocessor`` is
        top-level, outside ``model``, gives the teacher none)."""
        return normalizer(self.teacher if normalizes(self.teacher)
                          else self)(x)

    @property
    def teacher(self) -> nn.Module:
        return self.teacher_models['teacher']

    # ------------------------------------------------------------------
    # the schedule
    @property
    def num_rounds(self) -> int:
        """R: ``synthesis.rounds``, or ``ceil(budget / B)`` when unset."""
        if self.syn['rounds'] is not None:
            return int(self.syn['rounds'])
        return math.ceil(self.budget / int(self.syn['batch_size']))

    def round_quota(self, r: int) -> int:
        """Images of round ``r`` that enter the buffer: with
        ``synthesis.rounds`` set, the budget spread evenly over the rounds
        (``floor((r+1) S / R) - floor(r S / R)``, the first of the round's
        ``B`` images); unset, the whole batch until the budget is spent."""
        left = self.budget - int(self.synthesised)
        if self.syn['rounds'] is None:
            return max(0, min(int(self.syn['batch_size']), left))
        R, S = self.num_rounds, self.budget
        return max(0, min(left, (r + 1) * S // R - r * S // R))

    @property
    def generated(self) -> int:
        """Images the generator has produced so far (``rounds_done x
        B``): the budget's images and those of each round beyond its
        quota."""
        return int(self.rounds_done) * int(self.syn['batch_size'])

    @property
    def warmup_rounds(self) -> int:
        return min(self.num_rounds,
                   math.ceil(self.syn['warmup_ratio'] * self.num_rounds))

    def _kd_total(self) -> int:
        """Distillation steps of the run (``max_iters - R_w``; one per
        remaining round outside a Runner)."""
        max_iters = MessageHub.get_current_instance().get_info('max_iters')
        if max_iters is None:
            return max(1, self.num_rounds - self.warmup_rounds)
        return max(1, int(max_iters) - self.warmup_rounds)

    def round_step(self, r: int) -> int:
        """The distillation step at which round ``r >= R_w`` runs."""
        rest = self.num_rounds - self.warmup_rounds
        span = max(1, int(self.syn['span'] * self._kd_total()))
        return (r - self.warmup_rounds) * span // max(1, rest)

    def current_beta(self) -> float:
        b0, b1 = (float(v) for v in self.kd['beta'])
        frac = min(1.0, int(self.kd_steps_done) / max(1, self._kd_total() - 1))
        return b0 + (b1 - b0) * frac

    # ------------------------------------------------------------------
    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        """Prediction and ``tensor`` are the student's alone."""
        if mode == 'loss':
            raise RuntimeError('DataFreeDistiller trains in train_step; '
                               'there is no loss mode')
        return self.student(inputs, data_samples, mode=mode)

    def train_step(self, data, optim_wrapper) -> dict:
        """One iteration (``data`` is ignored): a warm-up synthesis round,
        or a scheduled round and a distillation step."""
        s_wrapper, g_wrapper = self._split(optim_wrapper)
        logs = {}
        r = int(self.rounds_done)
        if r < self.warmup_rounds:
            return self.synthesise(g_wrapper, adv=False)
        if r < self.num_rounds and int(self.kd_steps_done) >= \
                self.round_step(r):
            logs.update(self.synthesise(g_wrapper, adv=True))
        logs.update(self.distill_step(s_wrapper))
        return logs

    def _split(self, optim_wrapper):
        if isinstance(optim_wrapper, OptimWrapperDict):
            if 'student' not in optim_wrapper.optim_wrappers:
                raise ConfigError('optim_wrapper: expected a student entry '
                                  '(DataFreeOptimWrapperConstructor)')
            return (optim_wrapper['student'],
                    optim_wrapper.optim_wrappers.get('generator'))
        if self.syn['meta']:
            raise ConfigError(
                'model.synthesis.meta=True needs a generator optimizer: '
                "optim_wrapper=dict(constructor='DataFree"
                "OptimWrapperConstructor', student=..., generator=...)")
        return optim_wrapper, None

    def synthesise(self, g_wrapper=None, adv: bool = True) -> dict:
        """One synthesis round; its best images enter the buffer (up to the
        budget)."""
        if self.syn['meta'] and g_wrapper is None:
            raise ConfigError('model.synthesis.meta=True needs the '
                              'generator optimizer (optim_wrapper key '
                              'generator)')
        start = time.perf_counter()
        out = synthesis_round(
            unwrap(self.generator), self.teacher, unwrap(self.student),
            batch_size=int(self.syn['batch_size']),
            num_classes=self.num_classes,
            inner_steps=int(self.syn['inner_steps']),
            lr_g=self.syn['lr_g'], lr_z=self.syn['lr_z'],
            augment=self.syn_augment, bn_prior=self.bn_prior,
            bn_weight=float(self.syn['bn_weight']), task_loss=self.task_loss,
            tv_weight=float(self.syn['tv_weight']),
            l2_weight=float(self.syn['l2_weight']),
            adv_loss=self.adv_loss if adv else None,
            norm_t=self.norm_teacher, norm_s=self.norm_student,
            meta_wrapper=g_wrapper if self.syn['meta'] else None,
            self_label=self.task == 'seg', scope_counts=self.scope_counts())
        images = out.pop('images')
        keep = self.round_quota(int(self.rounds_done))
        slots = self.buffer.add(images[:keep])
        if keep and self.syn['phi_scope'] == 'buffer+batch':
            slots = slots.to(self.buffer.images.device)
            self.buffer_class_counts[slots] = self.class_counts(
                self.buffer.to_float(self.buffer.images[slots]))
        self.synthesised.add_(keep)
        self.rounds_done.add_(1)
        seconds = time.perf_counter() - start
        self.synthesis_time.add_(seconds)
        out.update(time_synthesis=seconds, buffer_items=len(self.buffer),
                   synthesised=int(self.synthesised),
                   generated=self.generated)
        return out

    def scope_counts(self) -> Optional[torch.Tensor]:
        """The buffer's class histogram ``(C,)`` for phi
        (``phi_scope='buffer+batch'``), else None."""
        if self.syn['phi_scope'] != 'buffer+batch':
            return None
        return self.buffer_class_counts[:len(self.buffer)].sum(0)

    @torch.no_grad()
    def class_counts(self, images: torch.Tensor) -> torch.Tensor:
        """Per image, the histogram of the teacher's argmax ``(k, C)`` (one
        count for classification, one per pixel for segmentation)."""
        labels = logits_of(self.teacher, self.norm_teacher(images)).argmax(1)
        labels = labels.reshape(labels.shape[0], -1)
        counts = torch.zeros(labels.shape[0], self.num_classes,
                             device=labels.device)
        return counts.scatter_add_(1, labels, torch.ones_like(
            labels, dtype=counts.dtype))

    def distill_step(self, s_wrapper) -> dict:
        """One student update on a prioritised buffer batch; refreshes the
        sampled items' priorities."""
        start = time.perf_counter()
        beta = self.current_beta()
        self.beta.fill_(beta)
        idx, images, w = self.buffer.sample(int(self.kd['batch_size']), beta)
        x = self.kd_augment(images)
        with torch.no_grad():
            t = logits_of(self.teacher, self.norm_teacher(x))
        with s_wrapper.optim_context(self.student):
            s = logits_of(self.student, self.norm_student(x))
        loss = self.kd_loss(pixel_rows(s), pixel_rows(t),
                            weight=per_pixel(w, s)
                            if self.buffer.weights_loss else None)
        s_wrapper.update_params(loss)
        kl = per_image_kl(s.detach(), t)
        self.buffer.update_priorities(
            idx, w * kl if self.kd['priority'] == 'w_kl' else kl)
        self.kd_steps_done.add_(1)
        seconds = time.perf_counter() - start
        self.distill_time.add_(seconds)
        return dict(loss=loss.detach(), loss_kd=loss.detach(), beta=beta,
                    time_distill=seconds)

    def init_weights(self):
        """The student as its config says; the generator keeps PyTorch's
        default initialisation (as Fast-Datafree's)."""
        unwrap(self.student).init_weights()
