"""One synthesis round of Fast-Datafree's meta-generator inversion (with
SSD-KD's modulated task term), and how synthetic images reach a model."""
import math
from contextlib import contextmanager
from typing import Callable, Optional

import torch
from torch import Tensor, nn


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
    """The model's ``tensor`` mode output (class logits ``(B, C)`` for an
    mmpretrain classifier; the last element when it returns several)."""
    out = model(x, mode='tensor')
    if isinstance(out, (tuple, list)):
        out = out[-1]
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
                    meta_wrapper=None) -> dict:
    """One round (DATAFREE.md 3 ``SynthesisRound``, Fast's
    ``FastMetaSynthesizer.synthesize``)::

        z ~ N(0, I)^(B x latent);  c ~ U{0..C-1}^B;  g' = clone(g)
        Adam([g' @ lr_g, z @ lr_z], betas=(0.5, 0.999))
        k times: x = g'(z); t = f_t(A(x)); (s = f_s(A(x)) with adv)
                 L = bn_weight L_BN + task(t, c) + adv(s, t)
                 keep x with the lowest L; backward;
                 FOMAML: g.grad += g'.grad; inner step
        meta step on g (``meta_wrapper``) once; BN-momentum EMA step

    The student is in eval mode and its parameters get no gradient (Fast
    discards them); the teacher's never do. ``norm_t``/``norm_s`` map
    images in [0, 1] to each model's input. Returns ``images`` (the best
    ``x``, ``(B, C, H, W)`` in [0, 1], detached) and the last step's
    terms for logging.
    """
    device = next(iter(teacher.buffers()), torch.zeros(())).device
    z = torch.randn(batch_size, *generator.latent_shape, device=device)
    z.requires_grad_(True)
    targets = torch.randint(num_classes, (batch_size, ), device=device)
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
            if bn_weight:
                bn_prior.reset()
                with bn_prior.recording():
                    t = logits_of(teacher, norm_t(x_aug))
                l_bn = bn_prior.loss()
            else:
                t = logits_of(teacher, norm_t(x_aug))
                l_bn = t.new_zeros(())
            l_task = task_loss(t, targets)
            l_adv = adv_loss(logits_of(student, norm_s(x_aug)), t) \
                if adv_loss is not None else t.new_zeros(())
            loss = bn_weight * l_bn + l_task + l_adv
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
    if meta:
        meta_wrapper.step()
        meta_wrapper.zero_grad()
    if bn_weight:
        bn_prior.update_momentum()
    return dict(images=best, **logs)
