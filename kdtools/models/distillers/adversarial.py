"""Holistic (adversarial) distillation (Liu et al., CVPR 2019, SKD): the
student's term ``-w * D(I, Q_s)`` against a Wasserstein critic ``D`` on
(image, score map), and the critic's own step (WGAN-GP loss, ``d_steps``
updates per student update with its own optimizer)."""
from collections import OrderedDict
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kdtools.registry import MODELS
from kdtools.utils.errors import ConfigError
from .input_wiring import InputRef, checked, teachers_of
from .state_dict import unwrap

_KEYS = {'student', 'teacher', 'loss_weight', 'gp_weight', 'd_steps',
         'condition_on_image', 'align'}


def resized(logits: Tensor, size) -> Tensor:
    """``logits`` bilinearly resized to ``size`` (as the pixel-wise term
    aligns score maps), unchanged when already that size."""
    if tuple(logits.shape[2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=tuple(size), mode='bilinear',
                         align_corners=False)


class AdversarialTerm:
    """The ``adversarial`` settings of a Distiller with a ``discriminator``,
    and what its critic needs from the last batch.

    Args (of ``adversarial``): ``student`` / ``teacher`` inputs (the score
    maps, default ``'student.logits'`` / ``'teacher.logits'``),
    ``loss_weight`` of the student's term (0.1), ``gp_weight`` (10),
    ``d_steps`` critic updates per student update (1),
    ``condition_on_image`` (True), ``align`` (``'student'``: score maps of
    different sizes, e.g. a stride-4 student and a stride-8 teacher, are
    compared at the student's size, the teacher's resized bilinearly as the
    pixel-wise term does; ``'teacher'``: at the teacher's).
    """

    def __init__(self, adversarial: Optional[dict], student_recorders,
                 teacher_recorders) -> None:
        adv = dict(adversarial or {})
        unknown = set(adv) - _KEYS
        if unknown:
            raise ConfigError(f'adversarial: unknown keys {sorted(unknown)}; '
                              f'expected some of {sorted(_KEYS)}')
        self.loss_weight = float(adv.get('loss_weight', 0.1))
        self.gp_weight = float(adv.get('gp_weight', 10.0))
        self.d_steps = int(adv.get('d_steps', 1))
        self.condition_on_image = bool(adv.get('condition_on_image', True))
        self.align = adv.get('align', 'student')
        if self.align not in ('student', 'teacher'):
            raise ConfigError(f'adversarial.align={self.align!r}; expected '
                              '"student" or "teacher"')
        if self.d_steps < 1:
            raise ConfigError(f'adversarial.d_steps={self.d_steps}; '
                              'expected >= 1 critic update per student '
                              'update')
        refs = {}
        for side in ('student', 'teacher'):
            ref = InputRef(adv.get(side, f'{side}.logits'),
                           f'adversarial.{side}')
            manager = student_recorders if side == 'student' else \
                next(iter(teacher_recorders.values()))
            if ref.side != side or ref.recorder not in manager:
                raise ConfigError(
                    f'adversarial.{side}: {ref.text!r} must name a {side} '
                    f'recorder; they are {sorted(manager.recorders)}')
            refs[side] = ref
        self.student, self.teacher = refs['student'], refs['teacher']
        self.shape = None  # the student's score map, from the dummy forward
        self.last = None  # (images, student logits, teacher logits)

    @classmethod
    def from_cfg(cls, discriminator: Optional[dict],
                 adversarial: Optional[dict], student_recorders,
                 teacher_recorders) -> Optional['AdversarialTerm']:
        """None without a discriminator (then ``adversarial`` is refused)."""
        if discriminator is None:
            if adversarial:
                raise ConfigError('adversarial=... is set but there is no '
                                  'discriminator=dict(type=...)')
            return None
        return cls(adversarial, student_recorders, teacher_recorders)

    @property
    def refs(self):
        return [self.student, self.teacher]

    def check_shapes(self, student_recorders, teacher_recorders) -> None:
        """After the dummy forward: the score maps of both sides have the
        same class count (their sizes may differ: :meth:`aligned`); keeps
        the student's shape."""
        s_ref = self.student
        self.shape = tuple(s_ref.fetch(student_recorders).shape)
        for t in teachers_of(self.teacher, teacher_recorders):
            t_shape = tuple(self.teacher.fetch(teacher_recorders[t]).shape)
            if t_shape[1] != self.shape[1]:
                raise ConfigError(
                    f'adversarial: the critic compares score maps, but '
                    f'student {s_ref.text} is {self.shape} and '
                    f'teachers.{t}: {self.teacher.text} is '
                    f'{t_shape} (different class counts)')

    def build_discriminator(self, cfg: dict) -> nn.Module:
        """The critic, ``in_channels`` inferred (classes, + 3 image
        channels when conditioned on the image)."""
        cfg = dict(cfg)
        cfg.pop('_scope_', None)
        in_channels = self.shape[1] + (3 if self.condition_on_image else 0)
        cfg.setdefault('in_channels', in_channels)
        if cfg['in_channels'] != in_channels:
            raise ConfigError(
                f'discriminator.in_channels={cfg["in_channels"]}, but the '
                f'score maps have {self.shape[1]} classes'
                f'{" + 3 image channels" if self.condition_on_image else ""}'
                f' = {in_channels}')
        return MODELS.build(cfg)

    def critic_input(self, logits: Tensor, images: Tensor) -> Tensor:
        probs = logits.softmax(dim=1)
        if not self.condition_on_image:
            return probs
        images = torch.nn.functional.interpolate(
            images.to(probs.dtype), size=probs.shape[2:], mode='bilinear',
            align_corners=False)
        return torch.cat([probs, images], dim=1)

    def aligned(self, s_logits: Tensor, teacher_recorders,
                teacher_weights: Dict[str, float]) -> Tuple[Tensor, Tensor]:
        """The student's and the teachers' score maps at one size (the
        student's or the first teacher's, as ``align`` says)."""
        names = teachers_of(self.teacher, teacher_recorders)
        scores = [self.teacher.fetch(teacher_recorders[t]) for t in names]
        size = s_logits.shape[2:] if self.align == 'student' \
            else scores[0].shape[2:]
        return resized(s_logits, size), self.teacher_scores(
            [resized(t, size) for t in scores], names, teacher_weights)

    @staticmethod
    def teacher_scores(scores, names, teacher_weights: Dict[str, float]
                       ) -> Tensor:
        """One teacher's score map, or (several teachers, maps of one size)
        the weighted mean of their probabilities, as logits."""
        if len(scores) == 1:
            return scores[0]
        probs = sum(teacher_weights[t] * s.softmax(dim=1)
                    for t, s in zip(names, scores))
        return probs.clamp_min(1e-8).log()

    def student_loss(self, discriminator: nn.Module, inputs: Tensor,
                     student_recorders, teacher_recorders,
                     teacher_weights: Dict[str, float],
                     it: int) -> Dict[str, Tensor]:
        """``-w * D(I, Q_s)`` with the critic frozen (its parameters get no
        gradient from it); keeps the batch for :meth:`critic_loss`."""
        s_logits, t_logits = self.aligned(
            self.student.fetch(student_recorders), teacher_recorders,
            teacher_weights)
        critic = unwrap(discriminator)
        flags = [p.requires_grad for p in critic.parameters()]
        for p in critic.parameters():
            p.requires_grad_(False)
        try:
            score = critic(self.critic_input(s_logits, inputs))
        finally:
            for p, f in zip(critic.parameters(), flags):
                p.requires_grad_(f)
        self.last = (inputs.detach(), s_logits.detach(), t_logits.detach())
        loss = -self.loss_weight * score.mean()
        return {'distill.loss_holistic': checked(loss, 'loss_holistic', it)}

    def critic_loss(self, discriminator: nn.Module) -> Dict[str, Tensor]:
        """WGAN-GP critic loss on the last batch: ``D(fake) - D(real) +
        gp_weight * (||grad D(x_hat)|| - 1)^2`` with ``x_hat`` random
        interpolates of teacher (real) and student (fake) inputs."""
        images, s_logits, t_logits = self.last
        real = self.critic_input(t_logits, images)
        fake = self.critic_input(s_logits, images)
        d_real = discriminator(real)
        d_fake = discriminator(fake)
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device,
                         dtype=real.dtype)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(discriminator(x_hat).sum(), x_hat,
                                    create_graph=True)
        penalty = (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()
        return OrderedDict([
            ('disc.loss_wgan', d_fake.mean() - d_real.mean()),
            ('disc.loss_gp', self.gp_weight * penalty),
        ])


def split_optim_wrapper(optim_wrapper) -> Tuple:
    """The ``student`` and ``discriminator`` optimizer wrappers, or a
    ConfigError naming what to configure."""
    keys = set(getattr(optim_wrapper, 'optim_wrappers', {}) or {})
    if keys != {'student', 'discriminator'}:
        raise ConfigError(
            'a Distiller with a discriminator needs optim_wrapper='
            'dict(constructor="DistillerOptimWrapperConstructor", '
            'student=dict(...), discriminator=dict(...)); got '
            f'{type(optim_wrapper).__name__} with {sorted(keys)}')
    return optim_wrapper['student'], optim_wrapper['discriminator']


def critic_steps(model, d_wrapper, d_steps: int) -> Dict[str, Tensor]:
    """``d_steps`` critic updates on ``model.discriminator_loss()`` by
    ``d_wrapper``; the last one's log vars (``disc.*``)."""
    for _ in range(d_steps):
        with d_wrapper.optim_context(model.discriminator):
            d_losses = model.discriminator_loss()
        d_loss, d_log = model.parse_losses(d_losses)
        d_wrapper.update_params(d_loss)
    d_log['disc.loss'] = d_log.pop('loss')
    return d_log
