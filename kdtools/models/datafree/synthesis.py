"""One synthesis round of Fast-Datafree's meta-generator inversion (with
SSD-KD's modulated task term), and how synthetic images reach a model."""
import math
from contextlib import contextmanager
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..losses.utils import tempered_kl


def normalizes(model: nn.Module) -> bool:
    """Whether the model's data preprocessor normalises (mean/std)."""
    pre = getattr(model, 'data_preprocessor', None)
    return bool(getattr(pre, '_enable_normalize', False))


def normalizer(model: nn.Module) -> Callable[[Tensor], Tensor]:
    """Images in [0, 1] -> the model's input: raw pixels (x 255)
    normalised with its data preprocessor's mean and std (as its real
    images would be; the channel order is the generator's to learn)."""
    pre = getattr(model, 'data_preprocessor', None)
    if normalizes(model):
        return lambda x: (x * 255 - pre.mean) / pre.std
    return lambda x: x * 255


def logits_of(model: nn.Module, x: Tensor) -> Tensor:
    """The model's ``tensor`` mode output: class logits ``(B, C)`` for an
    mmpretrain classifier (the last element when it returns several);
    for an mmseg segmentor the decode head's score map, resized to the
    input's ``(H, W)`` as mmseg's ``predict`` does (bilinear, the model's
    ``align_corners``) -> ``(B, C, H, W)``."""
    out = model(x, mode='tensor')
    if isinstance(out, (tuple, list)):
        out = out[-1]
    if out.dim() == 4 and out.shape[2:] != x.shape[2:]:
        inner = getattr(model, 'module', model)
        out = F.interpolate(out, size=x.shape[2:], mode='bilinear',
                            align_corners=bool(getattr(
                                inner, 'align_corners', False)))
    return out


def pixel_rows(logits: Tensor) -> Tensor:
    """Per-pixel outputs as rows of a batch: ``(B, C, H, W)`` ->
    ``(B H W, C)`` (pixel u of image j at row ``j H W + u``), so that the
    classification terms (task, adversarial, KD) apply per pixel and their
    means are ``mean_{j,u}`` (DATAFREE.md 7.3); ``(B, C)`` unchanged."""
    if logits.dim() == 2:
        return logits
    return logits.movedim(1, -1).reshape(-1, logits.shape[1])


def per_pixel(weight: Tensor, logits: Tensor) -> Tensor:
    """A per-image weight ``(B,)`` repeated for each pixel of ``logits``
    (the rows of :func:`pixel_rows`); unchanged for ``(B, C)``. With it,
    ``mean_rows(w_row * l_row) = mean_j w_j mean_u l_{j,u}``."""
    if logits.dim() == 2:
        return weight
    return weight.repeat_interleave(logits[0, 0].numel())


def per_image_kl(preds_S: Tensor, preds_T: Tensor) -> Tensor:
    """``KL(p_t || p_s)`` at T = 1 per image ``(B,)``: per sample for
    logits ``(B, C)``; averaged over the pixels for score maps ``(B, C, H,
    W)``, ``mean_{u in Omega} KL(p_t(.|x,u) || p_s(.|x,u))`` (the
    per-image priority of DATAFREE.md 7.3). The teacher is detached."""
    kl = tempered_kl(preds_S, preds_T, 1.0, dim=1)
    return kl.flatten(1).mean(1) if kl.dim() > 1 else kl


def image_prior(x: Tensor, tv_weight: float, l2_weight: float) -> Tensor:
    """DeepInversion's image priors on a model input ``x (B, C, H, W)``
    (Yin et al., CVPR 2020; NVlabs' ``deepinversion_cifar10.py``)::

        R(x) = tv_weight (||d_h x|| + ||d_w x|| + ||d_hw x|| + ||d_wh x||)
               + l2_weight ||x||

    ``d`` the differences of neighbouring pixels along the rows, the
    columns and both diagonals, ``||.||`` the L2 norm over the whole
    batch (not squared, not averaged), as the reference computes them."""
    out = x.new_zeros(())
    if tv_weight:
        diffs = (x[..., :, :-1] - x[..., :, 1:],
                 x[..., :-1, :] - x[..., 1:, :],
                 x[..., 1:, :-1] - x[..., :-1, 1:],
                 x[..., :-1, :-1] - x[..., 1:, 1:])
        out = out + tv_weight * sum(torch.norm(d) for d in diffs)
    if l2_weight:
        out = out + l2_weight * torch.norm(x)
    return out


@contextmanager
def frozen(module: nn.Module):
    """Parameters without gradients in the block (restored after); the
    activations stay differentiable with respect to the inputs."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


@contextmanager
def eval_mode(module: nn.Module):
    was = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was)


def synthesis_round(generator: nn.Module, teacher: nn.Module,
                    student: nn.Module, *, batch_size: int, num_classes: int,
                    inner_steps: int, lr_g: float, lr_z: float,
                    augment: nn.Module, bn_prior, bn_weight: float,
                    task_loss: nn.Module, adv_loss: Optional[nn.Module],
                    norm_t: Callable, norm_s: Callable,
                    meta_wrapper=None, self_label: bool = False,
                    scope_counts: Optional[Tensor] = None,
                    tv_weight: float = 0.0, l2_weight: float = 0.0) -> dict:
    """One round (DATAFREE.md 3 ``SynthesisRound``, Fast's
    ``FastMetaSynthesizer.synthesize``)::

        z ~ N(0, I)^(B x latent);  c ~ U{0..C-1}^B;  g' = clone(g)
        Adam([g' @ lr_g, z @ lr_z], betas=(0.5, 0.999))
        k times: x = g'(z); t = f_t(A(x)); (s = f_s(A(x)) with adv)
                 L = bn_weight L_BN + task(t, c) + adv(s, t)
                     (+ DeepInversion's image priors, :func:`image_prior`)
                 keep x with the lowest L; backward;
                 FOMAML: g.grad += g'.grad; inner step
        meta step on g (``meta_wrapper``) once; BN-momentum EMA step

    The student is in eval mode and its parameters get no gradient (Fast
    discards them); the teacher's never do. ``norm_t``/``norm_s`` map
    images in [0, 1] to each model's input. Returns ``images`` (the best
    ``x``, ``(B, C, H, W)`` in [0, 1], detached) and the last step's
    terms for logging.

    ``self_label=True`` (segmentation, DATAFREE.md 7.3): no random targets;
    the task term's target is the teacher's own detached per-pixel argmax
    of each step, and the task and adversarial terms see the score maps as
    pixel rows (:func:`pixel_rows`), so ``phi`` counts pixels.
    ``scope_counts (C,)``: the buffer's class histogram added to the batch's
    in ``phi`` (``phi_scope='buffer+batch'``).
    """
    device = next(iter(teacher.buffers()), torch.zeros(())).device
    z = torch.randn(batch_size, *generator.latent_shape, device=device)
    z.requires_grad_(True)
    targets = None if self_label else torch.randint(
        num_classes, (batch_size, ), device=device)
    fast = generator.clone()
    g_params = [p for p in fast.parameters() if p.requires_grad]
    groups = [dict(params=[z], lr=lr_z)]
    if g_params:
        groups.insert(0, dict(params=g_params, lr=lr_g))
    inner = torch.optim.Adam(groups, lr=lr_g, betas=(0.5, 0.999))
    meta = meta_wrapper is not None and bool(g_params)
    if meta:
        meta_wrapper.zero_grad()
    best, best_cost, logs = None, math.inf, {}
    with eval_mode(student), frozen(student):
        for _ in range(inner_steps):
            x = fast(z)
            x_aug = augment(x)
            x_t = norm_t(x_aug)
            if bn_weight:
                bn_prior.reset()
                with bn_prior.recording():
                    t = logits_of(teacher, x_t)
                l_bn = bn_prior.loss()
            else:
                t = logits_of(teacher, x_t)
                l_bn = t.new_zeros(())
            t = pixel_rows(t)
            l_task = task_loss(t, t.detach().argmax(1) if self_label
                               else targets, scope_counts=scope_counts)
            l_adv = adv_loss(pixel_rows(logits_of(student, norm_s(x_aug))),
                             t) if adv_loss is not None else t.new_zeros(())
            loss = bn_weight * l_bn + l_task + l_adv
            if tv_weight or l2_weight:
                l_prior = image_prior(x_t, tv_weight, l2_weight)
                loss = loss + l_prior
            cost = loss.item()
            if best is None or cost < best_cost:
                best, best_cost = x.detach().clone(), cost
            inner.zero_grad()
            loss.backward()
            if meta:
                for p, fp in zip(generator.parameters(), fast.parameters()):
                    if fp.grad is None:
                        continue
                    p.grad = fp.grad.clone() if p.grad is None \
                        else p.grad + fp.grad
            inner.step()
            logs = dict(syn_loss=cost, syn_loss_bn=l_bn.item(),
                        syn_loss_task=l_task.item(),
                        syn_loss_adv=l_adv.item())
            if tv_weight or l2_weight:
                logs['syn_loss_prior'] = l_prior.item()
    if meta:
        meta_wrapper.step()
        meta_wrapper.zero_grad()
    if bn_weight:
        bn_prior.update_momentum()
    return dict(images=best, **logs)
